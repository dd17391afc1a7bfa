"""The token-cluster findings script's statistics on arrays with known answers."""

import numpy as np
import pytest

from tests.support.scripts import load_script


@pytest.fixture(scope="module")
def findings():
    return load_script("clusters_findings")


def test_correlation_and_its_intervals(findings) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(60)
    y = 2 * x + 0.5 * rng.standard_normal(60)
    y[3] = np.nan  # dropped, not propagated
    corr = findings.correlation(x, y, n_boot=500)
    assert corr["n"] == 59 and 0.9 < corr["r"] < 1.0
    assert corr["fisher_lo"] < corr["r"] < corr["fisher_hi"]
    assert corr["boot_lo"] < corr["r"] < corr["boot_hi"] and corr["spearman"] > 0.85
    noise = findings.correlation(x, rng.standard_normal(60), n_boot=500)
    assert noise["fisher_lo"] < 0 < noise["fisher_hi"]
    assert np.isnan(findings.correlation(x[:3], y[:3])["r"])


def test_first_step_reaching_or_falling_under_a_threshold(findings) -> None:
    steps = np.array([0, 10, 20, 30])
    values = np.array([0.1, 0.5, 0.2, 0.9])
    assert findings.first_step_at(steps, values, 0.4) == 10
    assert findings.first_step_at(steps, values, 0.95) is None
    assert findings.first_step_at(steps, values, 0.15, below=True) == 0
