"""A head label as the report prints it (events table, plot legend) is what queries accept."""

import re

import pytest

from tests.support.report_stores import planted_events, planted_store, store_events
from tracker.cli.main import main
from tracker.labels import HeadId
from tracker.store import SeriesStore

HEAD = re.compile(r"\bL\d+H\d+\b")


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    root = tmp_path_factory.mktemp("labels")
    store = planted_store(root / "s.h5", "EleutherAI/pythia-410m", midpoint=500)
    store_events({store: planted_events("EleutherAI/pythia-410m", 500)})
    assert main(["report", str(store), "-o", str(root / "out"),
                 "--metric", "induction_score"]) == 0
    return store, (root / "out" / "index.html").read_text()


def _query_when(store, label: str, capsys) -> str:
    capsys.readouterr()
    assert main(["query", "when", str(store), "--kind", "induction", "--head", label]) == 0
    return capsys.readouterr().out


def test_label_copied_from_the_report_is_accepted_by_query_when(reported, capsys):
    store, html = reported
    # The planted risers: L1H2 (midpoint step 500) and L2H4 (step 2000), nothing else.
    assert set(HEAD.findall(html)) == {"L1H2", "L2H4"}
    assert "L1.H2" not in html
    out = _query_when(store, "L1H2", capsys)
    header, row = out.splitlines()[:2]
    cells = dict(zip(header.split(), row.split(), strict=True))
    assert cells["head"] == "L1H2"
    assert cells["event_midpoint_step"] == "500"
    out = _query_when(store, "L2H4", capsys)
    assert "L2H4" in out and " 2000 " in out


def test_plot_legend_labels_are_accepted_by_query_when(reported, capsys):
    from tracker.report.plots import units_figure

    store, _ = reported
    view = SeriesStore(store)
    info = next(i for i in view.metric_infos() if i.name == "induction_score")
    fig = units_figure(view, info)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    heads = [text for text in legend if HEAD.fullmatch(text)]
    assert heads[:2] == ["L1H2", "L2H4"]  # strongest first
    for label in heads:
        hid = HeadId.parse(label)
        assert f"{hid.label} " in _query_when(store, label, capsys)
