"""Tests for tracker.report.sections: what a report rewrite reuses."""

from __future__ import annotations

from pathlib import Path

from tests.support.detection_stores import circuit_order_store, planted_store
from tracker.events import write_events
from tracker.events.induction_order import induction_parts
from tracker.report import dynamics_section
from tracker.report.sections import StoreMemo, store_digest
from tracker.store import SeriesStore


def test_store_digest_follows_the_bytes_and_the_path(tmp_path: Path) -> None:
    path = planted_store(tmp_path / "a.h5", "org/a", 2000)
    store = SeriesStore(path)
    before = store_digest(store)
    assert store_digest(SeriesStore(path)) == before
    copy = tmp_path / "b.h5"
    copy.write_bytes(path.read_bytes())
    assert store_digest(SeriesStore(copy)) != before  # another file
    write_events(path, [], {})
    assert store_digest(SeriesStore(path)) != before  # new bytes


def test_store_memo_computes_once_per_store_content(tmp_path: Path) -> None:
    calls: list[str] = []

    def steps(store: SeriesStore) -> int:
        calls.append(store.series_id)
        return len(store.steps)

    memo = StoreMemo(steps, capacity=2)
    a = planted_store(tmp_path / "a.h5", "org/a", 2000)
    b = planted_store(tmp_path / "b.h5", "org/b", 2000, seed=1)
    c = planted_store(tmp_path / "c.h5", "org/c", 2000, seed=2)
    assert memo(SeriesStore(a)) == memo(SeriesStore(a)) == len(SeriesStore(a).steps)
    assert calls == ["org/a"]
    write_events(a, [], {})  # the store changed: computed again
    memo(SeriesStore(a))
    assert calls == ["org/a", "org/a"]
    memo(SeriesStore(b))
    memo(SeriesStore(c))  # past capacity: a, the least recently used, is dropped
    memo(SeriesStore(b))
    memo(SeriesStore(a))
    assert calls == ["org/a", "org/a", "org/b", "org/c", "org/a"]


def test_formation_order_is_analysed_once_per_store(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = SeriesStore(circuit_order_store(tmp_path / "c.h5"))
    counted: list[str] = []

    def parts(s: SeriesStore):  # type: ignore[no-untyped-def]
        counted.append(s.series_id)
        return induction_parts(s)

    monkeypatch.setattr(dynamics_section, "_PARTS", StoreMemo(parts))
    first = dynamics_section.order_html([store])
    assert "<code>L1H0</code>" in first
    assert dynamics_section.order_html([store]) == first
    assert counted == [store.series_id]
