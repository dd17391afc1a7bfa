"""Bootstrap standard errors: seeded, and close to the textbook sd / sqrt(n) for a mean."""

from __future__ import annotations

import numpy as np

from tracker.metric import Metric
from tracker.probes.uncertainty import BootstrapConfig, bootstrap_se, bootstrap_stat_se, with_errors


def test_bootstrap_se_of_a_mean_matches_sd_over_root_n() -> None:
    values = np.random.default_rng(1).normal(size=(400, 3)) * np.array([1.0, 2.0, 0.0])
    se = bootstrap_se(values, BootstrapConfig(n_bootstrap=2000))
    expected = values.std(axis=0, ddof=1) / np.sqrt(400)
    np.testing.assert_allclose(se[:2], expected[:2], rtol=0.1)
    assert se[2] == 0.0
    assert np.array_equal(se, bootstrap_se(values, BootstrapConfig(n_bootstrap=2000)))


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
