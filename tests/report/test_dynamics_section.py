"""The report's formation-order and transition-width blocks, on a store planted part by part."""

from __future__ import annotations

from tests.support.detection_stores import circuit_order_store, planted_store
from tracker.cli.main import main
from tracker.events import read_events_for
from tracker.report.dynamics_section import dynamics_overview, order_html, widths_html
from tracker.report.html import render_report
from tracker.store import SeriesStore


def test_order_and_width_blocks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    circuit = circuit_order_store(tmp_path / "c.h5")
    plain = planted_store(tmp_path / "p.h5", "org/p", 2000, seed=2, handover=False)
    assert main(["detect", str(circuit), str(plain)]) == 0
    stores = [SeriesStore(circuit), SeriesStore(plain)]
    order = order_html(stores)
    assert "Induction circuit formation order" in order
    assert "<code>L1H0</code>" in order and "<code>L0H1</code>" in order
    assert "prev_token &lt; k_composition &lt; induction &lt; copying" in order
    assert order_html(stores[1:]) == ""  # no composition probe: no block
    events = read_events_for((s.path, s.series_id) for s in stores)
    widths = widths_html(events)
    assert "Transition widths" in widths and "induction_score" in widths
    assert "abrupt if &gt;= 0.5 of the change" in widths
    assert widths_html(events.iloc[0:0]) == ""
    page = render_report([circuit, plain])
    assert dynamics_overview(stores, events) in page
    assert "dec, " in page  # the events tables show each event's width
