"""The sigmoid onset fit: geometry of the result, bootstrap intervals, acceptance rules."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.detect import get_detector
from tracker.detect.sigmoid import LN9, logistic

MID, SCALE, LO, HI = 3.8, 0.08, 0.05, 0.75


@pytest.fixture(scope="module")
def rise(pythia_x):
    rng = np.random.default_rng(21)
    return logistic(pythia_x, LO, HI, MID, SCALE) + rng.normal(0, 0.02, len(pythia_x))


@pytest.fixture(scope="module")
def result(rise, pythia_x):
    return get_detector("sigmoid").detect(rise, pythia_x)


def test_reports_one_onset_with_consistent_geometry(result, pythia_x):
    (cp,) = result
    on = cp.onset
    assert on is not None
    assert on.onset < on.midpoint < on.end
    assert on.width == pytest.approx(on.end - on.onset)
    assert on.midpoint - on.onset == pytest.approx(on.end - on.midpoint)
    assert on.magnitude == pytest.approx(on.hi - on.lo)
    assert cp.size == on.magnitude
    assert cp.x == on.onset
    assert 0.0 <= cp.confidence <= 1.0


def test_estimates_are_close_to_the_truth(result):
    on = result[0].onset
    assert on.midpoint == pytest.approx(MID, abs=0.02)
    assert on.onset == pytest.approx(MID - SCALE * LN9, abs=0.04)
    assert on.width == pytest.approx(2 * SCALE * LN9, abs=0.08)
    assert on.lo == pytest.approx(LO, abs=0.02)
    assert on.hi == pytest.approx(HI, abs=0.02)
    assert on.noise == pytest.approx(0.02, rel=0.3)
    assert result[0].confidence == 1.0


def test_bootstrap_intervals_contain_the_estimate_and_are_tight(result):
    on = result[0].onset
    for (lo, hi), point in [
        (on.onset_ci, on.onset),
        (on.midpoint_ci, on.midpoint),
        (on.width_ci, on.width),
    ]:
        assert lo <= point <= hi
        assert 0 < hi - lo < 0.1


def test_bootstrap_intervals_mostly_cover_the_truth(pythia_x):
    # A residual bootstrap of a nonlinear fit under-covers a little (the midpoint's 95%
    # interval held the truth in 35 of 40 draws when this was written); ask for 80%.
    det = get_detector("sigmoid", n_boot=60)
    truth = {"onset": MID - SCALE * LN9, "midpoint": MID, "width": 2 * SCALE * LN9}
    covered = dict.fromkeys(truth, 0)
    draws = 15
    for seed in range(draws):
        rng = np.random.default_rng(100 + seed)
        y = logistic(pythia_x, LO, HI, MID, SCALE) + rng.normal(0, 0.02, len(pythia_x))
        on = det.detect(y, pythia_x)[0].onset
        for key, ci in [
            ("onset", on.onset_ci),
            ("midpoint", on.midpoint_ci),
            ("width", on.width_ci),
        ]:
            covered[key] += ci[0] <= truth[key] <= ci[1]
    assert all(v >= 0.8 * draws for v in covered.values()), covered


def test_bootstrap_is_seeded(rise, pythia_x, result):
    again = get_detector("sigmoid").detect(rise, pythia_x)
    assert again == result
    other = get_detector("sigmoid", seed=1, n_boot=30).detect(rise, pythia_x)
    assert other[0].onset.onset == result[0].onset.onset  # the fit itself does not vary
    assert other[0].onset.onset_ci != result[0].onset.onset_ci


def test_small_rise_is_rejected(pythia_x):
    rng = np.random.default_rng(22)
    # Rise of 4 noise sd: below the default ratio of 8.
    y = logistic(pythia_x, 0.05, 0.13, MID, SCALE) + rng.normal(0, 0.02, len(pythia_x))
    assert get_detector("sigmoid", n_boot=0).detect(y, pythia_x) == []
    # The same curve passes with a looser ratio.
    assert get_detector("sigmoid", n_boot=0, min_rise_ratio=2.0).detect(y, pythia_x)


def test_rise_that_has_not_finished_is_rejected(pythia_x):
    # Midpoint beyond the last checkpoint: no upper plateau observed.
    rng = np.random.default_rng(23)
    y = logistic(pythia_x, 0.05, 0.8, 5.3, 0.1) + rng.normal(0, 0.02, len(pythia_x))
    assert get_detector("sigmoid", n_boot=0).detect(y, pythia_x) == []


def test_straight_trend_is_not_an_onset(pythia_x):
    rng = np.random.default_rng(24)
    y = 0.1 + 0.12 * pythia_x + rng.normal(0, 0.02, len(pythia_x))
    assert get_detector("sigmoid", n_boot=0).detect(y, pythia_x) == []
