"""The simulated null uses the AR(1) coefficient that explains the estimate, not the estimate."""

import hashlib

import numpy as np

from tracker.detect import transition as tr

STEPS = np.array([0] + [2**k for k in range(10)] + list(range(1000, 143001, 1000)), float)
X = np.log10(STEPS + 1)
CFG = tr.TransitionConfig(n_null=60)


def _draws(rho_bin: float) -> tuple[np.ndarray, float]:
    xb, lb = X.tobytes(), X.tobytes()
    return tr._null_draws(hashlib.sha1(xb + lb).hexdigest(), xb, lb, "trend", rho_bin, CFG)


def test_the_estimator_is_biased_low_on_strong_autocorrelation() -> None:
    _, mean_at_09 = _draws(0.9)
    assert mean_at_09 < 0.85  # why the correction exists


def test_null_is_simulated_at_the_coefficient_whose_estimates_reach_the_observed_one() -> None:
    estimate = _draws(0.9)[1]  # what a series of true rho 0.9 yields on average
    chosen = tr.null_statistics(X, X, "trend", estimate, CFG)
    naive = _draws(float(np.round(estimate * 20) / 20))[0]
    assert np.array_equal(chosen, _draws(0.9)[0]) or np.array_equal(chosen, _draws(0.95)[0])
    # A stronger null has heavier tails: the corrected threshold is higher than the naive one.
    assert np.quantile(chosen, 0.99) > np.quantile(naive, 0.99)


def test_white_noise_estimate_is_left_alone() -> None:
    assert np.array_equal(tr.null_statistics(X, X, "trend", 0.0, CFG), _draws(0.0)[0])
