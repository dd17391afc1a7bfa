"""Dormant / active label changes and active-dormant heads as events, from a planted store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.report_stores import (
    DORMANT_ALL_FROM,
    DORMANT_STEPS,
    DORMANT_TEXT_FROM,
    dormant_store,
    planted_store,
)
from tracker.circuits.role_swaps import SwapConfig
from tracker.events import find_events
from tracker.events.dormant import domains, dormant_events, head_runs, label_runs
from tracker.labels import HeadId
from tracker.store import SeriesStore


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SeriesStore:
    return SeriesStore(dormant_store(tmp_path_factory.mktemp("dormant") / "d.h5"))


def test_persistent_changes_are_events_and_flickers_are_not(store: SeriesStore) -> None:
    found = {(e.kind, e.metric, e.head_label, e.onset_step, e.members)
             for e in dormant_events(store)}
    text_step, all_step = DORMANT_STEPS[DORMANT_TEXT_FROM], DORMANT_STEPS[DORMANT_ALL_FROM]
    assert found == {
        ("dormant", "dormant_text", "L0H1", text_step, "text"),
        ("active_dormant", "active_dormant", "L0H1", text_step,
         "dormant:text active:random+repeated"),
        ("dormant", "dormant_random", "L1H1", all_step, "random"),
        ("dormant", "dormant_text", "L1H1", all_step, "text"),
        ("dormant", "dormant_repeated", "L1H1", all_step, "repeated"),
    }
    event = next(e for e in dormant_events(store) if e.kind == "active_dormant")
    assert event.onset_tokens == text_step * 1000 and event.probe == "dormant"


def test_one_checkpoint_persistence_takes_the_flicker(store: SeriesStore) -> None:
    events = dormant_events(store, SwapConfig(persistence=1))
    flicker = [(e.kind, e.onset_step) for e in events if e.head_label == "L1H0"]
    assert flicker == [("active_dormant", 80.0), ("dormant", 80.0),
                       ("active_dormant_end", 160.0), ("active", 160.0)]


def test_runs_compress_labels_to_changes(store: SeriesStore) -> None:
    assert domains(store) == ["random", "repeated", "text"]
    runs = head_runs(store)
    assert sorted(runs) == [HeadId(0, 1), HeadId(1, 0), HeadId(1, 1)]
    text = [(r.label, r.first_step, r.last_step) for r in runs[HeadId(0, 1)]
            if r.domain == "text"]
    assert text == [("active", 0, 20), ("dormant", 40, 640)]
    assert label_runs(DORMANT_STEPS[:3], [float("nan"), 1.0, 1.0]) == [  # type: ignore[arg-type]
        ("unmeasured", 0, 0), ("dormant", 10, 20)]


def test_event_finder_includes_dormant_events(store: SeriesStore, tmp_path: Path) -> None:
    kinds = {e.kind for e in find_events(store)}
    assert {"dormant", "active_dormant"} <= kinds
    other = SeriesStore(planted_store(tmp_path / "p.h5"))
    assert dormant_events(other) == []
