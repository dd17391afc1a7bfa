"""Plateaus over layers, the collapse onset and the two-timescale verdict on known curves."""

from __future__ import annotations

import numpy as np

from tracker.probes.clusters.plateaus import (
    collapse_onset,
    find_plateaus,
    plateau_mask,
    two_timescale_ratio,
    verdict,
)


def test_plateaus_are_maximal_flat_runs_of_three_or_more() -> None:
    mass = np.array([0.0, 0.1, 0.5, 0.52, 0.51, 0.5, 0.9, 0.95, 0.3, 0.31])
    assert find_plateaus(mass, 3, 0.1) == [range(2, 6)]
    np.testing.assert_array_equal(plateau_mask([range(2, 6)], 10), [0, 0, 1, 1, 1, 1, 0, 0, 0, 0])
    assert find_plateaus(np.zeros(6), 3, 0.1) == []  # nothing clustered: no plateau
    assert find_plateaus(np.full(6, 0.4), 3, 0.1) == [range(0, 6)]


def test_verdict_from_plateau_width_over_collapse_onset() -> None:
    assert collapse_onset(np.array([0.1, 0.5, 0.95, 0.99])) == 2.0
    assert np.isnan(collapse_onset(np.array([0.1, 0.5])))
    assert verdict(two_timescale_ratio(5.0, 2.0)) == 2.0
    assert verdict(two_timescale_ratio(3.0, 2.0)) == 1.0
    assert verdict(two_timescale_ratio(1.0, 2.0)) == 0.0
    assert np.isnan(verdict(two_timescale_ratio(4.0, 0.0)))  # collapsed at the embeddings
    assert np.isnan(verdict(two_timescale_ratio(4.0, float("nan"))))
