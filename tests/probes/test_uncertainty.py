"""Bootstrap standard errors: seeded, and close to the textbook sd / sqrt(n) for a mean."""

from __future__ import annotations

import warnings

import numpy as np

from tracker.metric import Metric
from tracker.probes.uncertainty import (
    BootstrapConfig,
    bootstrap_se,
    bootstrap_stat_se,
    resample_indices,
    with_errors,
)


def test_bootstrap_se_of_a_mean_matches_sd_over_root_n() -> None:
    values = np.random.default_rng(1).normal(size=(400, 3)) * np.array([1.0, 2.0, 0.0])
    se = bootstrap_se(values, BootstrapConfig(n_bootstrap=2000))
    expected = values.std(axis=0, ddof=1) / np.sqrt(400)
    np.testing.assert_allclose(se[:2], expected[:2], rtol=0.1)
    assert se[2] == 0.0
    assert np.array_equal(se, bootstrap_se(values, BootstrapConfig(n_bootstrap=2000)))


def test_bootstrap_se_ignores_nan_items_per_resample_like_a_loop_over_resamples() -> None:
    """Against the plain form: each resample's mean over its non-NaN draws, then the SD."""
    values = np.random.default_rng(2).normal(size=(30, 2, 3))
    values[[1, 4, 9], 0, 1] = np.nan
    values[:, 1, 2] = np.nan  # never present: NaN
    cfg = BootstrapConfig(n_bootstrap=300)
    idx = resample_indices(30, cfg)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.stack([np.nanmean(values[row], axis=0) for row in idx])
    expected = means.std(axis=0, ddof=1)
    se = bootstrap_se(values, cfg)
    np.testing.assert_allclose(se[~np.isnan(expected)], expected[~np.isnan(expected)],
                               rtol=1e-12)
    assert np.isnan(se[1, 2]) and np.isnan(expected[1, 2])


def test_fractions_and_too_few_items() -> None:
    wins = np.array([1.0] * 30 + [0.0] * 70)  # p = 0.3 over 100 items
    se = float(bootstrap_se(wins, BootstrapConfig(n_bootstrap=4000)))
    assert abs(se - np.sqrt(0.3 * 0.7 / 100)) < 0.005
    assert np.isnan(bootstrap_se(np.ones((1, 2)), BootstrapConfig())).all()
    ratio = bootstrap_stat_se(100, lambda idx: wins[idx].mean() * 2, BootstrapConfig())
    assert abs(float(ratio) - 2 * se) < 0.02


def test_with_errors_pairs_each_metric_with_its_record() -> None:
    metrics = [Metric(name="a", kind="head"), Metric(name="n", kind="scalar")]
    names = [m.name for m in with_errors(metrics, skip=("n",))]
    assert names == ["a", "a_se", "n"]
