"""BOCPD: the run-length filter and the lagged detection rule."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.detect import get_detector
from tracker.detect.bocpd import BocpdConfig, start_posteriors


def test_posterior_over_starts_is_normalised_and_finds_the_shift():
    rng = np.random.default_rng(31)
    z = np.r_[np.zeros(40), 6 * np.ones(40)] + rng.normal(0, 1, 80)
    u = np.linspace(0, 1, 80)
    posts = list(start_posteriors(z, u, BocpdConfig(trend=False)))
    assert [len(p) for p in posts] == list(range(1, 81))
    for p in posts:
        assert p.sum() == pytest.approx(1.0)
        assert np.all(p >= 0)
    # Before the shift the segment is believed to start at 0; five points after it the MAP
    # start is the shift itself (t minus the MAP run length, counting the newest point).
    assert int(np.argmax(posts[35])) == 0
    assert int(np.argmax(posts[45])) == 40
    # The mass on "started at t" answers to the data: larger at the shift than before it.
    assert posts[40][40] > 10 * posts[30][30]


@pytest.mark.parametrize("trend", [False, True])
def test_detects_mean_shifts(trend):
    rng = np.random.default_rng(32)
    y = np.r_[np.zeros(70), 2 * np.ones(60), 0.5 * np.ones(70)] + rng.normal(0, 0.3, 200)
    cps = get_detector("bocpd", trend=trend).detect(y)
    assert [cp.index for cp in cps] == [70, 130]
    assert cps[0].size == pytest.approx(2.0, abs=0.15)
    assert cps[1].size == pytest.approx(-1.5, abs=0.15)
    assert all(0.8 <= cp.confidence <= 1.0 for cp in cps)


def test_single_outlier_is_not_a_change():
    rng = np.random.default_rng(33)
    y = rng.normal(0, 1, 150)
    y[70] = 9.0
    assert get_detector("bocpd").detect(y) == []


def test_change_near_the_end_is_judged_with_the_remaining_lag():
    rng = np.random.default_rng(34)
    y = np.r_[np.zeros(100), 5 * np.ones(4)] + rng.normal(0, 0.3, 104)
    assert [cp.index for cp in get_detector("bocpd").detect(y)] == [100]
