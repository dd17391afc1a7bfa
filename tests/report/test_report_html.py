import base64
import importlib
import re
import shutil
import subprocess
import sys

import pytest

from tests.support.report_stores import (
    circuit_store,
    cluster_store,
    planted_events,
    planted_store,
    store_events,
)
from tracker.cli.main import main
from tracker.store import SeriesStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
N_FIGURES = 7  # 2 cross-series curves + timeline + per series (units + grid) x 2


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One report over two sizes (one with repeated weights), shared by the page tests."""
    root = tmp_path_factory.mktemp("report")
    small = planted_store(root / "small.h5", "EleutherAI/pythia-70m", midpoint=4000,
                          repeated=(16000,))
    big = planted_store(root / "big.h5", "EleutherAI/pythia-410m", midpoint=500)
    store_events({small: planted_events("EleutherAI/pythia-70m", 4000),
                  big: planted_events("EleutherAI/pythia-410m", 500)})
    code = main(["report", str(big), str(small), "-o", str(root / "out"),
                 "--metric", "induction_score", "--metric", "icl/icl_score"])
    assert code == 0
    return root / "out" / "index.html", (small, big)


def test_report_is_self_contained_with_embedded_pngs(report):
    page, _ = report
    html = page.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched
    sources = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(sources) == N_FIGURES
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_shows_summary_provenance_and_events(report):
    page, (small, big) = report
    html = page.read_text()
    store = SeriesStore(small)
    # Sections ordered by model size whatever the command-line order.
    assert html.index("id='EleutherAI-pythia-70m'") < html.index("id='EleutherAI-pythia-410m'")
    assert "<div class='k'>events</div><div class='v'>6</div>" in html
    assert store.checkpoint_hashes[-1][:10] in html and "step143000" in html
    assert "Repeated weights." in html and "steps 16,000" in html
    assert "v1-0123456789abcdef" in html and "v2-fedcba9876543210" in html
    assert "&quot;seq_len&quot;:50" in html  # probe config, escaped
    assert "induction_score: 0.86 max, 2 heads" in html  # last-checkpoint summary
    # The strong head's event: midpoint step 500 = 1B tokens for the 410m series.
    assert re.search(r"L1H2.*?500<span class='sub'>1B tok", html, re.S)
    assert "phase transition" in html


def _chromium_flags(tmp_path):
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000"]


def _rendered_root(page, tmp_path):
    """The page's root element as headless chromium leaves it, after its script has run."""
    dom = subprocess.run([*_chromium_flags(tmp_path), "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    root = re.search(r"<html[^>]*>", dom.stdout)
    assert root, dom.stderr[-2000:]
    assert ":CONSOLE" not in dom.stderr, dom.stderr  # no script errors or warnings
    return root.group(0)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless chromium not installed "
                    "(apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    page, _ = report
    flags = _chromium_flags(tmp_path)
    root = _rendered_root(page, tmp_path)
    # The page's own script marks the root once every image has decoded.
    assert 'data-report-ready="ok"' in root, root
    assert f'data-images-loaded="{N_FIGURES}"' in root

    shot = tmp_path / "report.png"
    subprocess.run([*flags, "--hide-scrollbars", "--window-size=1400,2200",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120,
                   check=True)
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2200, 1400)
    header = pixels[20:120, 20:1380].mean(axis=(0, 1))
    assert header[2] > header[0] and header.mean() < 0.4  # the dark blue header band
    body = pixels[600:2200]
    saturated = (body.max(axis=-1) - body.min(axis=-1)) > 0.25  # coloured curves, markers
    assert saturated.mean() > 0.004


def test_report_and_plots_import_without_wandb(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    for name in [m for m in sys.modules if m.startswith(
            ("tracker.report", "tracker.wandb_logging"))]:
        monkeypatch.delitem(sys.modules, name)
    report = importlib.import_module("tracker.report")
    assert callable(report.write_report) and callable(report.write_plots)


def test_outliers_are_quality_warnings_not_strongest_events():
    import pandas as pd

    from tracker.events import Event, events_frame
    from tracker.report.figures import split_warnings
    from tracker.report.html import events_table, warnings_list

    rise = Event("org/a", "emergence", "induction", "induction_score", 1, 2, 900.0, 1000.0,
                 1200.0, 9e5, 1e6, 1.2e6, 0.6, 0.999, "transition:v2", "", 0.001, "")
    spike = Event("org/a", "outlier", "induction", "induction_score", 0, 3, 500.0, 500.0,
                  500.0, 5e5, 5e5, 5e5, 9.0, 0.0, "transition:v2", "", float("nan"), "")
    frame = events_frame([rise, spike])
    changes, warnings = split_warnings(frame)
    assert list(changes["kind"]) == ["emergence"] and list(warnings["kind"]) == ["outlier"]
    table = events_table(changes, limit=8)
    assert "L1H2" in table and "L0H3" not in table
    listed = warnings_list(warnings)
    assert "1 quality warning " in listed and "L0H3" in listed and "500" in listed
    assert warnings_list(pd.DataFrame(columns=frame.columns)) == ""


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless chromium not installed "
                    "(apt-get install -y chromium)")
def test_circuit_block_renders_in_headless_chromium(tmp_path):
    store = circuit_store(tmp_path / "c.h5")
    assert main(["report", str(store), "-o", str(tmp_path / "out"), "--metric",
                 "circuit_ioi_clean_metric"]) == 0
    page = tmp_path / "out" / "index.html"
    html = page.read_text()
    block = html[html.index("<h3>Circuits</h3>"):]
    n_circuit = len(re.findall(r"<img ", block))
    assert n_circuit == 5  # curves + drawings at four checkpoints
    root = _rendered_root(page, tmp_path)
    assert 'data-report-ready="ok"' in root, root
    # The chosen scalar metric's one figure, and the block's.
    total = len(re.findall(r"<img ", html))
    assert f'data-images-loaded="{total}"' in root and total == n_circuit + 1


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless chromium not installed "
                    "(apt-get install -y chromium)")
def test_cluster_blocks_render_in_headless_chromium(tmp_path):
    store = cluster_store(tmp_path / "c.h5")
    assert main(["report", str(store), "-o", str(tmp_path / "out"), "--metric",
                 "collapse_speed"]) == 0
    page = tmp_path / "out" / "index.html"
    html = page.read_text()
    assert html.count("<h3>Token clusters</h3>") == 2  # across series, and the series
    root = _rendered_root(page, tmp_path)
    assert 'data-report-ready="ok"' in root, root
    # The chosen metric's curve, the across-series figure and the series' heatmaps.
    assert len(re.findall(r"<img ", html)) == 3 and 'data-images-loaded="3"' in root


def test_figures_rendered_in_worker_processes_give_the_same_page(tmp_path):
    """workers=2: every placeholder is filled, in place, with a PNG of the same figure."""
    from tracker.report import render_report

    store = planted_store(tmp_path / "s.h5", "EleutherAI/pythia-70m", midpoint=4000)
    store_events({store: planted_events("EleutherAI/pythia-70m", 4000)})
    from tracker.report.sections import SECTIONS

    big = planted_store(tmp_path / "b.h5", "EleutherAI/pythia-410m", midpoint=500)
    inline = render_report([store], ["induction_score"], title="t")
    SECTIONS.clear()  # or the series' section would be the inline one, reused
    pooled = render_report([store], ["induction_score"], title="t", workers=2)
    assert "@@tracker-figure" not in pooled
    # Two sections to draw: each is built whole in a worker.
    SECTIONS.clear()
    inline_two = render_report([store, big], ["induction_score"], title="t")
    SECTIONS.clear()
    pooled_two = render_report([store, big], ["induction_score"], title="t", workers=2)
    assert "@@tracker-figure" not in pooled_two

    def figures(page: str) -> list[str]:
        return re.findall(r'<figure id="([^"]+)"', page)

    def without_pngs(page: str) -> str:
        return re.sub(r"base64,[^\"]+|generated [^·]+", "", page)

    for one, other in ((pooled, inline), (pooled_two, inline_two)):
        assert figures(one) == figures(other) and len(figures(other)) >= 3
        assert without_pngs(one) == without_pngs(other)
        for data in re.findall(r"base64,([^\"]+)", one):
            assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(figures(inline_two)) > len(figures(inline))


def test_a_rewrite_draws_again_only_the_series_that_changed(tmp_path, monkeypatch):
    """The demo's rewrites: an unchanged series' section is reused, a changed one redrawn."""
    from tracker.events import write_events
    from tracker.report import html, render_report

    small = planted_store(tmp_path / "small.h5", "EleutherAI/pythia-70m", midpoint=4000)
    big = planted_store(tmp_path / "big.h5", "EleutherAI/pythia-410m", midpoint=500)
    store_events({small: planted_events("EleutherAI/pythia-70m", 4000)})
    drawn: list[str] = []
    fresh_section = html._fresh_section

    def counted(pool, store, *args):
        drawn.append(store.series_id)
        return fresh_section(pool, store, *args)

    monkeypatch.setattr(html, "_fresh_section", counted)
    first = render_report([small], title="t", workers=2)
    second = render_report([small, big], title="t")
    assert drawn == ["EleutherAI/pythia-70m", "EleutherAI/pythia-410m"]
    section = re.search(r"<section id='EleutherAI-pythia-70m'>.*?</section>", first, re.S)
    assert section and section.group(0) in second  # the very same bytes, PNGs included
    store_events({big: planted_events("EleutherAI/pythia-410m", 500)})
    third = render_report([small, big], title="t", workers=2)
    assert drawn[2:] == ["EleutherAI/pythia-410m"] and "@@tracker-figure" not in third
    write_events(small, [], {})  # the small store's events change: its section is redrawn
    render_report([small, big], title="t")
    assert drawn[3:] == ["EleutherAI/pythia-70m"]
