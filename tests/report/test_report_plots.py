import numpy as np
import pandas as pd
import pytest

from tests.support.report_stores import (
    STEPS,
    TOKENS_PER_STEP,
    induction_scores,
    planted_events,
    planted_store,
    store_events,
)
from tracker.cli.main import main
from tracker.events import normalize_events
from tracker.report import heatmaps, plots
from tracker.store import SeriesStore
from tracker.views.mpl import save_figure


@pytest.fixture()
def two_sizes(tmp_path):
    small = planted_store(tmp_path / "small.h5", "EleutherAI/pythia-70m", midpoint=4000)
    big = planted_store(tmp_path / "big.h5", "EleutherAI/pythia-410m", midpoint=500)
    store_events({small: planted_events("EleutherAI/pythia-70m", 4000),
                  big: planted_events("EleutherAI/pythia-410m", 500)})
    return small, big


def _info(store, name):
    return next(i for i in store.metric_infos() if i.name == name)


def test_curves_put_planted_values_on_a_log_token_axis_with_events(tmp_path):
    events = normalize_events(planted_events("EleutherAI/pythia-160m", 1000))
    store = SeriesStore(planted_store(tmp_path / "s.h5"))
    info = _info(store, "induction_score")
    fig = plots.curves_figure([store], [info], events)
    left, right = fig.axes[:2]
    assert left.get_xscale() == "log" and right.get_xscale() == "log"
    curve = left.get_lines()[0]
    x, y = curve.get_data()
    # Step 0 has no place on a log axis: the curve starts at step 1, init is drawn apart.
    assert x.tolist() == [s * TOKENS_PER_STEP for s in STEPS[1:]]
    expected = [induction_scores(s, 1000).max() for s in STEPS[1:]]
    assert np.allclose(y, expected, atol=1e-6)
    init = [line for line in left.get_lines() if line.get_marker() == "o"
            and len(line.get_xdata()) == 1 and line.get_xdata()[0] < x[0]]
    assert init and np.isclose(init[0].get_ydata()[0], induction_scores(0, 1000).max())
    assert left.get_xlim()[0] < init[0].get_xdata()[0] < x[0]
    # Dashed vertical lines at the two planted event midpoints.
    dashed = sorted(line.get_xdata()[0] for line in left.get_lines()
                    if line.get_transform() is not left.transData
                    and len(line.get_xdata()) == 2 and line.get_xdata()[0] > x[0])
    assert dashed == [1000 * TOKENS_PER_STEP, 4000 * TOKENS_PER_STEP]
    counts = right.get_lines()[0].get_ydata()
    assert counts[-1] == 2 and counts[0] == 0


def test_grid_shares_one_colour_scale_over_log_spaced_checkpoints(tmp_path):
    store = SeriesStore(planted_store(tmp_path / "s.h5"))
    fig = heatmaps.grid_figure(store, _info(store, "induction_score"), n_panels=8)
    panels = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert 6 <= len(panels) <= 8
    assert panels[0].get_title().startswith("step 0\n")
    assert panels[-1].get_title().startswith("step 143,000\n")
    assert {ax.images[0].get_clim() for ax in panels} == {(0.0, 1.0)}
    last = panels[-1].images[0].get_array()
    assert np.allclose(last, induction_scores(143000, 1000))


def test_timeline_rows_per_mechanism_markers_per_series():
    events = normalize_events(pd.concat([planted_events("EleutherAI/pythia-70m", 4000),
                                         planted_events("EleutherAI/pythia-410m", 500)]))
    fig = plots.timeline_figure(events)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "induction_score" and labels[1].startswith("phase transition:")
    onsets = sorted(line.get_xdata()[0] for line in ax.get_lines()
                    if line.get_marker() == "o" and len(line.get_xdata()) == 1)
    # Earliest head per series and mechanism: onset = midpoint / 3 (emergence), / 2 (phase).
    assert np.allclose(onsets, sorted(np.array([500 / 3, 4000 / 3, 250, 2000]) * TOKENS_PER_STEP))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["pythia-70m", "pythia-410m"]


def test_plot_command_writes_each_figure(two_sizes, tmp_path, capsys):
    out = tmp_path / "plots"
    code = main(["plot", *map(str, two_sizes), "--metric", "induction_score", "-o", str(out)])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([
        "curves_induction-induction_score.png", "timeline.png",
        "EleutherAI-pythia-70m_units_induction-induction_score.png",
        "EleutherAI-pythia-70m_grid_induction-induction_score.png",
        "EleutherAI-pythia-410m_units_induction-induction_score.png",
        "EleutherAI-pythia-410m_grid_induction-induction_score.png"])
    from matplotlib.image import imread

    height, width, _ = imread(out / "curves_induction-induction_score.png").shape
    assert width > 1000 and height > 300
    assert "6 figures in" in capsys.readouterr().out


def test_plot_errors_are_one_line(two_sizes, tmp_path, capsys):
    code = main(["plot", str(two_sizes[0]), "--metric", "nope", "-o", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("tracker: error: ") and "small.h5: no metric 'nope'" in err[0]
    code = main(["report", str(tmp_path / "absent.h5"), "-o", str(tmp_path / "x")])
    assert code == 1 and "absent.h5: no such store" in capsys.readouterr().err


def test_vector_formats(tmp_path):
    events = normalize_events(planted_events("EleutherAI/pythia-70m", 4000))
    pdf = save_figure(plots.timeline_figure(events), tmp_path / "t.pdf")
    svg = save_figure(plots.timeline_figure(events), tmp_path / "t.svg")
    assert pdf.read_bytes().startswith(b"%PDF") and b"<svg" in svg.read_bytes()[:500]
