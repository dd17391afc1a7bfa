import numpy as np
import pytest

from tests.support.detection_stores import planted_store
from tracker.events import find_events, read_events, scale_table, timeline, write_events
from tracker.store import SeriesStore
from tracker.store.validate import validate_file


@pytest.fixture(scope="module")
def store_a(tmp_path_factory):
    return planted_store(tmp_path_factory.mktemp("a") / "a.h5", "org/small", 2000, seed=1)


@pytest.fixture(scope="module")
def events_a(store_a):
    return find_events(SeriesStore(store_a))


def _one(events, kind, metric, head=None):
    hits = [e for e in events if e.kind == kind and e.metric == metric
            and (head is None or e.head_label == head)]
    assert len(hits) == 1, [(e.kind, e.metric, e.head_label) for e in events]
    return hits[0]


def test_emergence_of_planted_head_is_located(events_a):
    event = _one(events_a, "emergence", "induction_score", "L1H2")
    assert 1600 < event.midpoint_step < 2500
    assert event.onset_step < event.midpoint_step < event.end_step
    assert event.midpoint_tokens == pytest.approx(event.midpoint_step * 1000)
    assert 0.7 < event.magnitude < 0.9
    assert event.detector.startswith("transition:")


def test_flat_heads_have_no_events(events_a):
    heads = {e.head_label for e in events_a if e.metric == "induction_score"
             and e.kind in ("emergence", "fade")}
    assert heads == {"L0H1", "L1H2", "L1H3"}


def test_falling_loss_is_an_emergence_of_a_lower_is_better_metric(events_a):
    event = _one(events_a, "emergence", "mean_loss")
    assert event.magnitude < -1.2
    assert 1500 < event.midpoint_step < 2700


def test_rise_then_fade_and_handover(events_a):
    rise = _one(events_a, "emergence", "induction_score", "L0H1")
    fade = _one(events_a, "fade", "induction_score", "L0H1")
    assert 350 < rise.midpoint_step < 700
    assert 6000 < fade.midpoint_step < 11000
    handover = _one(events_a, "handover", "induction_score")
    assert handover.members == "L0H1->L1H3"


def test_phase_transition_joins_loss_and_induction(events_a):
    (phase,) = [e for e in events_a if e.kind == "phase_transition"]
    assert phase.metric == "icl/mean_loss+induction/induction_score"
    assert 1500 < phase.midpoint_step < 2700
    assert "icl/mean_loss emergence@" in phase.members and "(p " in phase.members


def test_events_roundtrip_through_the_store(tmp_path, events_a, store_a):
    import shutil

    path = tmp_path / "copy.h5"
    shutil.copy(store_a, path)
    write_events(path, events_a, {"emergence_detector": "sigmoid", "change_detector": "pelt",
                                  "axis": "log_step"})
    frame = read_events(path)
    assert len(frame) == len(events_a)
    assert list(frame["kind"]) == [e.kind for e in events_a]
    assert np.allclose(frame["midpoint_step"], [e.midpoint_step for e in events_a])
    assert frame.attrs["stale"] is False
    assert validate_file(path) == []
    assert SeriesStore(path).steps.tolist() == SeriesStore(store_a).steps.tolist()


def test_across_scale_timeline_orders_sizes(tmp_path, events_a):
    big = planted_store(tmp_path / "b.h5", "org/big", 500, seed=2, handover=False)
    frame_b = read_events(big)  # no events stored yet
    assert frame_b.empty
    import pandas as pd

    from tracker.events import events_frame

    both = pd.concat([events_frame(events_a), events_frame(find_events(SeriesStore(big)))])
    wide = timeline(both, ["org/small", "org/big"])
    assert list(wide.columns) == ["org/small", "org/big"]
    # L0H1 in the small model emerges at ~500 steps, like L1H2 in the big one.
    ratio = wide.loc["induction_score", "org/small"] / wide.loc["induction_score", "org/big"]
    assert 0.3 < ratio < 3
    table = scale_table(both)
    row = table[(table.metric == "mean_loss") & (table.series == "org/big")].iloc[0]
    assert 300_000 < row.midpoint_tokens < 800_000
    loss_spread = table[table.metric == "mean_loss"]["spread_decades"].iloc[0]
    assert 0.4 < loss_spread < 0.8  # log10(2000/500) = 0.6
    flags = table.set_index(["metric", "series"])["handover"]
    assert flags[("induction_score", "org/small")] and not flags[("induction_score", "org/big")]
