"""Transition character: a planted step is abrupt, a slow logistic over a decade is gradual, with
widths and shares that match the curves; old event files stay readable."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from tests.support.detection_stores import planted_store
from tracker.events import EventFinder, SeriesSpec, find_in_series, read_events, write_events
from tracker.events.character import CharacterRule, largest_share, width_decades

# 90 log-spaced checkpoints over five decades (0.056 decades apart).
STEPS = np.unique(np.round(np.geomspace(1, 1e5, 90)))
X = np.log10(STEPS + 1)
TOKENS_PER_STEP = 1000
LN9 = float(np.log(9.0))


def _events(y: np.ndarray) -> list:  # type: ignore[type-arg]
    found = find_in_series("s", STEPS, [SeriesSpec("p", "score", y, 1, 0, threshold=0.3)],
                           TOKENS_PER_STEP)
    return [e for e in found if e.kind == "emergence"]


def test_planted_step_is_abrupt() -> None:
    rng = np.random.default_rng(0)
    jump = int(np.searchsorted(STEPS, 3000))  # the rise happens between two checkpoints
    y = 0.05 + 0.55 * (np.arange(len(STEPS)) >= jump) + rng.normal(0, 0.01, len(STEPS))
    (event,) = _events(y)
    assert STEPS[jump - 1] * 0.999 <= event.midpoint_step <= STEPS[jump] * 1.001
    assert event.largest_share > 0.9
    assert event.width_decades <= X[jump] - X[jump - 1] + 1e-9
    assert event.width_tokens <= (STEPS[jump] - STEPS[jump - 1]) * TOKENS_PER_STEP
    assert event.character == "abrupt"


def test_slow_logistic_over_a_decade_is_gradual_with_its_width() -> None:
    rng = np.random.default_rng(1)
    width, mid = 0.8, 3.0  # 10-90% over 0.8 decades around step 1000
    y = 0.05 + 0.55 / (1 + np.exp(-(X - mid) / (width / (2 * LN9))))
    y += rng.normal(0, 0.01, len(STEPS))
    (event,) = _events(y)
    assert event.width_decades == pytest.approx(width, abs=0.08)
    assert np.log10(event.midpoint_step + 1) == pytest.approx(mid, abs=0.1)
    # The logistic's steepest interval holds dx / (4 s) of the change: 0.056 / 0.73 = 0.08.
    assert 0.03 < event.largest_share < 0.2
    expected_tokens = (10 ** (mid + width / 2) - 10 ** (mid - width / 2)) * TOKENS_PER_STEP
    assert event.width_tokens == pytest.approx(expected_tokens, rel=0.35)
    assert event.character == "gradual"


def test_rule_and_share_on_known_numbers() -> None:
    rule = CharacterRule()
    assert rule.label(1.0, 0.6) == "abrupt"  # one interval holds most of the change
    assert rule.label(0.05, 0.2) == "abrupt"  # narrower than 0.1 decades
    assert rule.label(0.5, 0.2) == "gradual"
    assert rule.label(float("nan"), float("nan")) == ""
    y = np.array([0.0, 0.0, 0.1, 0.6, 0.9, 1.0, 1.0])
    assert largest_share(y, 2, 4, 1.0) == pytest.approx(0.5)
    assert largest_share(-y, 2, 4, -1.0) == pytest.approx(0.5)
    assert np.isnan(largest_share(y, 2, 4, 0.0))
    assert width_decades(9, 99) == pytest.approx(1.0)


def test_old_event_files_read_the_new_columns_as_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = planted_store(tmp_path / "a.h5", "org/small", 2000, seed=1, handover=False)
    rng = np.random.default_rng(0)
    events = _events(0.05 + 0.55 * (X > 3) + rng.normal(0, 0.01, len(X)))
    assert events and all(e.character for e in events)
    old = tmp_path / "old.h5"
    shutil.copy(path, old)
    write_events(old, events, {})
    with h5py.File(old, "a") as f:
        for column in ("width_tokens", "width_decades", "largest_share", "character"):
            del f["events"][column]
    frame = read_events(old)
    assert len(frame) == len(events)
    assert frame["width_decades"].isna().all() and (frame["character"] == "").all()
    write_events(path, events, EventFinder().meta)
    again = read_events(path)
    assert list(again["character"]) == [e.character for e in events]
    assert np.allclose(again["largest_share"], [e.largest_share for e in events], equal_nan=True)


def test_width_table_counts_characters_per_metric() -> None:
    import pandas as pd

    from tracker.events.character import width_table

    frame = pd.DataFrame({
        "series": ["s"] * 4, "probe": ["p"] * 4, "metric": ["a", "a", "a", "b"],
        "kind": ["emergence", "emergence", "phase_transition", "fade"],
        "width_decades": [0.05, 0.45, np.nan, 0.2], "width_tokens": [10.0, 30.0, np.nan, 5.0],
        "largest_share": [0.9, 0.1, np.nan, 0.3],
        "character": ["abrupt", "gradual", "", "gradual"]})
    table = width_table(frame)
    assert list(zip(table["metric"], table["kind"], table["events"], table["abrupt"],
                    table["gradual"], strict=True)) == [("a", "emergence", 2, 1, 1),
                                                        ("b", "fade", 1, 0, 1)]
    assert table["median_width_decades"].tolist() == pytest.approx([0.25, 0.2])
