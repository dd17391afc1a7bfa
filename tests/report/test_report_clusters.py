"""The report's token-cluster blocks: heatmaps, violations and ratio, across series, absence."""

import base64
import re

import numpy as np
import pandas as pd
import pytest

from tests.support.report_stores import (
    CLUSTER_SERIES,
    CLUSTER_STEPS,
    cluster_mass,
    cluster_store,
    planted_store,
)
from tracker.labels import slug
from tracker.report import render_report, write_plots
from tracker.report.cluster_section import (
    cluster_facts,
    clusters_overview,
    clusters_section,
)
from tracker.report.clusters import across_figure, cluster_events, layers_figure
from tracker.report.figures import select_metrics
from tracker.store import SeriesStore
from tracker.views.clusters import cluster_series

PNG = b"\x89PNG\r\n\x1a\n"
OTHER = "organisms/cluster-toy-big"


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("clusters")
    return (SeriesStore(cluster_store(root / "a.h5")),
            SeriesStore(cluster_store(root / "b.h5", OTHER, ratio=True)))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _pngs(html: str) -> list[bytes]:
    return [base64.b64decode(src) for src in
            re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', html)]


def test_report_has_cluster_blocks_per_series_and_across(stores):
    html = render_report([s.path for s in stores])
    overview = html[html.index('<section id="overview">'):]
    overview = overview[:overview.index("</section>")]
    assert 'id="clusters_across_series"' in overview
    for store in stores:
        section = html[html.index(f"<section id='{slug(store.series_id)}'>"):]
        section = section[:section.index("</section>")]
        block = section[section.index("<h3>Token clusters</h3>"):]
        assert re.findall(r'<figure id="([^"]+)"', block) == [
            f"{slug(store.series_id)}_clusters_layers"]
        assert [png[:8] for png in _pngs(block)] == [PNG]
    # The generic curves skip what the cluster figures draw, constant and NaN-only
    # scalars, and every per-boundary vector; other scalars and layer metrics stay.
    curves = set(re.findall(r'<figure id="curves_clusters-([^"]+)"', html))
    assert curves == {"cka", "collapse_speed", "energy_monotone", "collapse_onset_layer"}


def test_facts_say_where_the_energy_is_monotone_and_the_collapse(stores):
    text = _text(cluster_facts(cluster_series(stores[0])))
    assert ("in every prompt × β curve at 5 of 8 checkpoints (steps 0–40, 320); at step 640 "
            "(640K tokens) it falls at 2.25 of 9 (β, layer) places per prompt.") in text
    assert ("peaks at 0.62 at step 20 (20K tokens) and ends at 0.05, with 40 HDBSCAN "
            "clusters there.") in text


def test_undefined_ratio_is_said_in_words_and_not_drawn(stores):
    view = cluster_series(stores[0])
    assert ("The two-timescale ratio is undefined at every checkpoint: the repeated-token "
            "control is collapsed already at the embeddings") in _text(cluster_facts(view))
    fig = layers_figure(view)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert not any("two-timescale" in t for t in titles)
    assert any(t.startswith("energy violations per prompt (of 9") for t in titles)


def test_defined_ratio_gets_a_panel_with_gaps_and_its_verdict(stores):
    view = cluster_series(stores[1])
    assert ("The two-timescale ratio is defined at 7 of 8 checkpoints; at step 640 (640K "
            "tokens) it is 3.5 (verdict confirmed).") in _text(cluster_facts(view))
    fig = layers_figure(view)
    ratio = [ax for ax in fig.axes if ax.get_title(loc="left").startswith("two-timescale ratio")]
    assert len(ratio) == 1 and "undefined at 1 checkpoints" in ratio[0].get_title(loc="left")
    line = ratio[0].get_lines()[0]
    assert line.get_ydata().tolist() == pytest.approx([0.5 * i for i in range(1, 8)])


def test_heatmap_rows_are_boundaries_and_columns_checkpoints(stores):
    view = cluster_series(stores[0])
    fig = layers_figure(view)
    mass_ax = fig.axes[0]
    assert mass_ax.get_title(loc="left").startswith("mass near 1")
    init, live = mass_ax.collections[:2]
    # Step 0 in the init band, then one column per later checkpoint, boundary 0 at the bottom.
    assert np.asarray(init.get_array()).reshape(4, 1)[:, 0] == pytest.approx(cluster_mass(0))
    grid = np.asarray(live.get_array()).reshape(4, len(CLUSTER_STEPS) - 1)
    assert grid[:, 1] == pytest.approx(cluster_mass(2))  # the collapse at step 20
    assert grid[-1, -1] == pytest.approx(0.05)
    columns = live.get_coordinates()[0, :, 0]
    assert columns[1] == pytest.approx(np.sqrt(10_000 * 20_000))  # halfway in log


def test_events_are_marked_on_the_violation_panel(stores):
    view = cluster_series(stores[0])
    events = pd.DataFrame([{"series": CLUSTER_SERIES, "kind": "change", "probe": "clusters",
                            "metric": "energy_violations", "midpoint_tokens": 60_000.0,
                            "onset_tokens": 45_000.0},
                           {"series": CLUSTER_SERIES, "kind": "outlier", "probe": "clusters",
                            "metric": "energy_violations", "midpoint_tokens": 9e4,
                            "onset_tokens": 9e4}])
    assert len(cluster_events(events, CLUSTER_SERIES, "energy_violations")) == 1
    fig = layers_figure(view, events)
    panel = next(ax for ax in fig.axes if ax.get_title(loc="left").startswith("energy violations"))
    dashed = [line for line in panel.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in dashed] == [60_000.0]
    assert panel.get_legend() is not None


def test_across_figure_draws_one_line_per_series_per_panel(stores):
    views = [cluster_series(s) for s in stores]
    fig = across_figure(views)
    panels = fig.axes[:4]
    assert [len([ln for ln in ax.get_lines() if ln.get_label() in
                 ("cluster-toy", "cluster-toy-big")]) for ax in panels] == [2, 2, 2, 2]
    share = panels[1].get_lines()[0]
    # Violations over 3 betas x 3 layers: 2.25 / 9 once the energy falls.
    assert share.get_ydata()[-1] == pytest.approx(0.25)
    assert panels[3].get_yscale() == "log"


def test_store_without_clusters_gets_no_block(tmp_path):
    path = planted_store(tmp_path / "p.h5", steps=[0, 1, 2, 4])
    store = SeriesStore(path)
    assert clusters_section(store) == "" and clusters_overview([store]) == ""
    html = render_report([path], metrics=["icl_score"])
    assert "<h3>Token clusters</h3>" not in html
    assert "_clusters_layers" not in html and "clusters_across_series" not in html


def test_constant_and_nan_only_scalars_are_not_chosen(stores):
    chosen = select_metrics([stores[0]], None)
    assert "clusters/cluster_prompts" not in chosen
    assert "clusters/cluster_lifespan" not in chosen
    assert "clusters/collapse_speed" in chosen


def test_plot_command_writes_cluster_figures(stores, tmp_path):
    written = {p.name for p in write_plots([s.path for s in stores], tmp_path)}
    assert {"clusters_across_series.png", f"{slug(CLUSTER_SERIES)}_clusters_layers.png",
            f"{slug(OTHER)}_clusters_layers.png"} <= written
    for name in written:
        assert (tmp_path / name).read_bytes()[:8] == PNG
