"""One sequence over layers: identical layers persist fully; a token permutation changes nothing."""

from __future__ import annotations

import numpy as np

from tracker.probes.clusters.config import ClustersConfig
from tracker.probes.clusters.sequence import analyse_sequence

CFG = ClustersConfig()


def _layers(seed: int = 0) -> np.ndarray:
    """Five boundaries of 24 tokens in 16 dims drifting from a cloud into 3 clusters."""
    rng = np.random.default_rng(seed)
    cloud = rng.standard_normal((24, 16))
    centres = np.repeat(np.eye(16)[:3] * 3.0, 8, axis=0)
    return np.stack([(1 - a) * cloud + a * centres + 0.05 * rng.standard_normal((24, 16))
                     for a in (0.0, 0.3, 0.6, 0.9, 1.0)])


def test_identical_layers_have_cka_one_stable_neighbours_and_no_energy_change() -> None:
    x = np.repeat(_layers()[:1], 3, axis=0)
    stats = analyse_sequence(x, CFG)
    np.testing.assert_allclose(stats.cka, 1.0)
    np.testing.assert_array_equal(stats.nn_stability, 1.0)
    assert not stats.violations.any() and np.isnan(stats.worst).all()
    np.testing.assert_array_equal(stats.tracks.births, 0)
    np.testing.assert_array_equal(stats.tracks.deaths, 0)


def test_a_permutation_of_tokens_changes_nothing() -> None:
    x = _layers()
    perm = np.random.default_rng(5).permutation(x.shape[1])
    a, b = analyse_sequence(x, CFG), analyse_sequence(x[:, perm], CFG)
    for field in ("ip_mean", "ip_std", "mass", "hist", "energy", "effective_rank", "cka",
                  "nn_stability", "agglomerative", "eigengap", "hdbscan", "violations"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), atol=1e-9,
                                   err_msg=field)
    for field in ("births", "deaths", "merges", "lifespans"):
        np.testing.assert_array_equal(np.sort(getattr(a.tracks, field)),
                                      np.sort(getattr(b.tracks, field)))
    assert a.plateaus == b.plateaus and a.collapse_speed == b.collapse_speed
    # The drifting tokens end in the 3 planted clusters.
    assert a.hdbscan[-1] == 3 and a.eigengap[-1] == 3 and a.mass[-1] > a.mass[0]
