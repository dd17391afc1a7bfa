"""The report's circuit block: figures, the role table and role swaps, and its absence."""

import base64
import dataclasses
import re

import numpy as np
import pytest

from tests.support.report_stores import (
    CIRCUIT_SERIES,
    circuit_store,
    planted_store,
)
from tracker.labels import slug
from tracker.report import render_report, write_plots
from tracker.report.circuit_section import circuits_section, role_rows, swaps_html, task_facts
from tracker.report.circuits import MEASURES, curves_figure, task_plots
from tracker.store import SeriesStore
from tracker.views.circuits import task_circuits

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return SeriesStore(circuit_store(tmp_path_factory.mktemp("c") / "c.h5"))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_report_has_a_circuits_block_with_curves_and_drawings(store):
    html = render_report([store.path])
    section = html[html.index(f"<section id='{slug(CIRCUIT_SERIES)}'>"):]
    block = section[section.index("<h3>Circuits</h3>"):]
    prefix = f"{slug(CIRCUIT_SERIES)}_circuit_ioi_"
    ids = re.findall(r'<figure id="([^"]+)"', block)
    # Curves, then drawings at log-spaced checkpoints with a circuit (first and last kept).
    assert ids == [prefix + name for name in ("curves", "step20", "step80", "step160",
                                               "step640")]
    for src in re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', block):
        assert base64.b64decode(src)[:8] == PNG
    assert "69 edges (2 layers × 3 heads + MLPs)" in block
    assert ("First circuit at step 20 (20K tokens); at step 640: 4 of 69 edges (5.8%), "
            "faithfulness 0.87 (target 0.8); defined at 6 of 8 checkpoints.") in _text(block)
    # The generic plots leave out what the block shows, and never plot per-edge vectors.
    assert 'id="curves_circuits-circuit_ioi_clean_metric"' in html
    for name in ("size", "faithfulness", "name_mover", "edge_scores", "in_circuit"):
        assert f"curves_circuits-circuit_ioi_{name}\"" not in html


def test_role_table_lists_holder_changes_and_the_swap(store):
    view = task_circuits(store, "ioi")
    rows = [[_text(cell) for cell in row] for row in role_rows(view.spells())]
    assert rows == [
        ["name mover", "0 0 tok", "10 10K tok", "2", "none"],
        ["", "20 20K tok", "80 80K tok", "3", "L1H0"],
        ["", "160 160K tok", "640 640K tok", "3", "L1H1"],
        ["s inhibition", "–", "–", "8", "never held by a circuit head"],
    ]
    assert _text(swaps_html(view)) == "role step from to name mover 160 160K tok L1H0 L1H1"
    block = circuits_section(store)
    assert "Roles over training" in block and "L1H0" in block and "Role swaps" in block


def test_role_table_caps_long_histories():
    from tracker.views.circuits import role_spells

    held = np.zeros((30, 1, 2), bool)
    held[1::2, 0, 0] = True  # a flickering label: 30 runs
    spells = {"induction": role_spells(np.arange(30), np.arange(30), held, "induction")}
    rows = role_rows(spells, max_spells=5)
    assert len(rows) == 6 and _text(rows[-1][-1]) == "and 25 more changes of holders"


def test_curves_leave_gaps_and_shade_where_there_is_no_circuit(store):
    view = task_circuits(store, "ioi")
    fig = curves_figure(view, CIRCUIT_SERIES)
    final, previous, size, faith = fig.axes[:4]
    lines = {line.get_label(): line for line in final.get_lines()}
    jaccard = lines[MEASURES["jaccard"][0]]
    # Step 0 (init) has no circuit, so no init marker; step 10 is a gap, not a zero.
    assert jaccard.get_xdata().tolist() == [s * 1000 for s in (10, 20, 40, 80, 160, 320, 640)]
    assert np.isnan(jaccard.get_ydata()[0])
    assert jaccard.get_ydata()[1:].tolist() == pytest.approx([1 / 3] * 2 + [1.0] * 4)
    # One shaded run (step 10) in every panel.
    from matplotlib.patches import Rectangle

    for ax in (final, previous, size, faith):
        spans = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert len(spans) == 1
    target = [line for line in faith.get_lines() if list(line.get_ydata()) == [0.8, 0.8]]
    assert len(target) == 1  # the target line
    assert [t.get_text() for t in fig.legends[0].get_texts()][-1] == "no circuit (task not done)"


def test_store_without_circuits_gets_no_block(tmp_path):
    path = planted_store(tmp_path / "p.h5", steps=[0, 1, 2, 4])
    assert circuits_section(SeriesStore(path)) == ""
    html = render_report([path], metrics=["icl_score"])
    assert "Circuits" not in html and "circuit-task" not in html.split("</style>")[1]


def test_no_circuit_at_all_is_said_not_drawn(store):
    view = task_circuits(store, "ioi")
    never = dataclasses.replace(view, defined=np.zeros_like(view.defined))
    assert task_facts(never).startswith("No circuit at any checkpoint")
    assert list(task_plots(CIRCUIT_SERIES, never)) == []  # no figure of gaps only
    assert len(list(task_plots(CIRCUIT_SERIES, view, n_drawings=2))) == 3


def test_plot_command_writes_circuit_figures(store, tmp_path):
    written = {p.name for p in write_plots([store.path], tmp_path, fmt="png")}
    prefix = f"{slug(CIRCUIT_SERIES)}_circuit_ioi_"
    assert {prefix + "curves.png", prefix + "step640.png"} <= written
    only = {p.name for p in write_plots([store.path], tmp_path / "one",
                                        metrics=["circuit_ioi_clean_metric"])}
    assert only == {"curves_circuits-circuit_ioi_clean_metric.png"}


def test_a_metric_never_measured_in_one_store_gets_no_per_series_figures(store, tmp_path):
    from tests.support.report_stores import circuit_shards
    from tracker.store import consolidate, write_shard

    other = tmp_path / "never.h5"
    for shard in circuit_shards("organisms/circuit-toy-2"):
        result = next(iter(shard.results.values()))
        result.values["circuit_ioi_heads"][:] = np.nan  # no circuit head, ever
        write_shard(other, shard)
    consolidate(other)
    names = {p.name for p in write_plots([store.path, other], tmp_path / "out",
                                         metrics=["circuit_ioi_heads"])}
    assert "organisms-circuit-toy-2_grid_circuits-circuit_ioi_heads.png" not in names
    assert "organisms-circuit-toy-2_units_circuits-circuit_ioi_heads.png" not in names
    assert f"{slug(CIRCUIT_SERIES)}_grid_circuits-circuit_ioi_heads.png" in names


def test_overview_says_when_each_circuit_forms_in_steps_and_tokens(store):
    html = render_report([store.path])
    overview = html[html.index("<section id=\"overview\">"):]
    overview = overview[:overview.index("</section>")]
    assert "<h3>When circuits form</h3>" in overview
    text = _text(overview[overview.index("When circuits form"):])
    assert "circuit-toy ioi 20 20K tok 160 160K tok 4 0.87" in text


def test_curves_figure_pickles_for_a_render_worker(store):
    """A figure that does not pickle renders inline, off the worker pool."""
    import pickle

    view = task_circuits(store, "ioi")
    fig = pickle.loads(pickle.dumps(curves_figure(view, CIRCUIT_SERIES)))
    size = fig.axes[2]
    (right,) = [child for child in size.child_axes]
    edges = float(view.graph.n_edges)
    assert right._functions[0](np.array([edges])) == pytest.approx([1.0])
    assert right._functions[1](np.array([0.5])) == pytest.approx([edges / 2])
