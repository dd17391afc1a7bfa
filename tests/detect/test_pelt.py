"""The vectorised PELT search returns exactly ruptures' breakpoints."""

from __future__ import annotations

import numpy as np
import pytest
import ruptures as rpt

from tracker.detect._segment import SegmentCost
from tracker.detect.pelt import pelt_breakpoints


def _series(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    x = np.linspace(0.0, 1.0, n)
    if kind == "steps":
        return np.repeat(rng.normal(0, 1, 4), -(-n // 4))[:n] + rng.normal(0, 0.2, n)
    if kind == "rise":
        return 1 / (1 + np.exp(-(x - rng.uniform(0.2, 0.8)) / 0.03)) + rng.normal(0, 0.05, n)
    if kind == "flat":
        return np.zeros(n)  # every segment costs 0: ties everywhere
    return rng.normal(0, 1, n)


@pytest.mark.parametrize("trend", [True, False])
@pytest.mark.parametrize("kind", ["steps", "rise", "flat", "noise"])
def test_same_breakpoints_as_ruptures(trend: bool, kind: str) -> None:
    rng = np.random.default_rng(7)
    found = 0
    for trial in range(12):
        n = int(rng.integers(8, 80))
        y = _series(kind, n, rng)
        signal = np.column_stack([y, np.log1p(np.arange(n, dtype=float))])
        for pen in (0.01, 0.3, 3.0):
            cost = SegmentCost(trend=trend, min_size=3)
            ours = pelt_breakpoints(cost.fit(signal), n, cost.min_size, pen)
            algo = rpt.Pelt(custom_cost=SegmentCost(trend=trend, min_size=3),
                            min_size=cost.min_size, jump=1)
            assert ours == list(algo.fit(signal).predict(pen=pen)), (trial, pen)
            found += len(ours) - 1
    if kind in ("steps", "rise"):
        assert found > 0  # the comparison covered segmentations with change points


def test_vectorised_cost_is_bit_identical_to_the_scalar_one() -> None:
    rng = np.random.default_rng(1)
    signal = np.column_stack([rng.normal(0, 1, 50), np.arange(50.0)])
    cost = SegmentCost(trend=True, min_size=3).fit(signal)
    matrix = cost.error_matrix()
    for end in (3, 20, 50):
        assert [matrix[s, end] for s in range(end - 1)] == [cost.error(s, end)
                                                            for s in range(end - 1)]


def test_batched_detection_equals_one_series_at_a_time() -> None:
    """Complete rows go through the batched search, rows with gaps or NaNs alone."""
    from tracker.detect import get_detector

    rng = np.random.default_rng(3)
    x = np.log10(np.arange(1, 121, dtype=float))
    ys = np.stack([_series(kind, 120, rng) for kind in ["steps", "rise", "flat", "noise"] * 8])
    ys[5, 10:14] = np.nan  # cleaned per series: goes the single-series way
    detector = get_detector("pelt")
    batched = detector.detect_many(ys, x)
    assert batched == [detector.detect(y, x) for y in ys]
    assert sum(len(cps) for cps in batched) > 5
