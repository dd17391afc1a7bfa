"""The report's LLC block: the curve with its stage boundaries and the other events, absence."""

import base64
import re

import numpy as np
import pandas as pd
import pytest

from tests.support.report_stores import (
    CIRCUIT_TOKENS_PER_STEP,
    LLC_PEAK,
    LLC_SERIES,
    llc_store,
    planted_store,
    store_events,
)
from tracker.events import read_store_events
from tracker.events.stages import store_stage_events
from tracker.labels import slug
from tracker.report import render_report
from tracker.report.llc_section import llc_facts, llc_overview, llc_section
from tracker.store import SeriesStore
from tracker.views.llc import llc_series, stage_table

PNG = b"\x89PNG\r\n\x1a\n"
INDUCTION_STEP = 100


def _induction(series: str) -> dict:
    mid = INDUCTION_STEP
    return {"series": series, "kind": "emergence", "metric": "induction_score",
            "probe": "induction", "layer": 1, "head": 0, "onset_step": mid / 2,
            "midpoint_step": mid, "end_step": mid * 2,
            "onset_tokens": mid / 2 * CIRCUIT_TOKENS_PER_STEP,
            "midpoint_tokens": mid * CIRCUIT_TOKENS_PER_STEP,
            "end_tokens": mid * 2 * CIRCUIT_TOKENS_PER_STEP, "magnitude": 0.8,
            "confidence": 0.9, "detector": "sigmoid-v1", "members": "", "evidence": ""}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = llc_store(tmp_path_factory.mktemp("llc") / "l.h5")
    stages = [vars(e) for e in store_stage_events(SeriesStore(path))]
    store_events({path: pd.DataFrame(stages + [_induction(LLC_SERIES)])})
    return SeriesStore(path)


def test_the_view_has_the_peak_stage_and_the_induction_event(store):
    view = llc_series(store, read_store_events(store.path, store.series_id))
    assert len(view.stages) == 1
    stage = view.stages.iloc[0]
    assert stage["evidence"] == "peak"
    assert stage["midpoint_step"] == pytest.approx(LLC_PEAK, rel=0.2)
    assert list(view.others["metric"]) == ["induction_score"]
    assert view.llc[0] == pytest.approx(5.0) and view.llc_std[0] == pytest.approx(0.5)
    (row,) = stage_table(view)
    assert row[2] == "peak"
    gap = abs(np.log10(INDUCTION_STEP / stage["midpoint_step"]))
    assert row[4] == f"induction/induction_score at step 100 ({gap:.2f} decades)"


def view_step(store) -> str:
    (step,) = llc_series(store, read_store_events(store.path, store.series_id)).stages[
        "midpoint_step"]
    return f"{step:,.0f}"


def test_the_section_draws_the_curve_and_states_the_facts(store):
    events = read_store_events(store.path, store.series_id)
    html = llc_section(store, events)
    assert "LLC and stages" in html
    (data,) = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert base64.b64decode(data).startswith(PNG)
    facts = llc_facts(llc_series(store, events))
    assert "Measured at 8 checkpoints, 7 with a settled trace." in facts
    assert "peaks at 25 at step 80" in facts
    assert f"1 stage boundary, at step {view_step(store)}." in facts
    assert "induction/induction_score at step 100" in html
    overview = llc_overview([store], events)
    assert "peak" in overview and "llc-toy" in overview


def test_the_report_has_the_block_only_for_stores_with_the_probe(store, tmp_path):
    page = render_report([store.path])
    assert f"id='{slug(LLC_SERIES)}-llc'" in page
    assert "LLC stages" in page
    # the LLC's own metrics are drawn by the block, not again as generic curves
    assert "curves_llc" not in page
    other = planted_store(tmp_path / "p.h5", "org/p", 500)
    plain = render_report([other])
    assert "LLC and stages" not in plain and "LLC stages" not in plain
    assert llc_section(SeriesStore(other)) == ""
