"""Known answers of the cluster counts: k well-separated clusters, and two scales of them."""

from __future__ import annotations

import numpy as np

from tracker.probes.clusters import counting, geometry
from tracker.probes.clusters.config import THRESHOLDS


def _clusters(centres: np.ndarray, per: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([c + noise * rng.standard_normal((per, centres.shape[1]))
                           for c in centres])


def test_k_separated_clusters_give_k_by_every_count() -> None:
    k, d = 4, 32
    g = geometry.gram(_clusters(np.eye(d)[:k], per=10, noise=0.02))
    np.testing.assert_array_equal(counting.agglomerative_counts(g, THRESHOLDS), k)
    assert counting.eigengap_count(g) == k
    labels = counting.hdbscan_labels(g)
    assert counting.count_labels(labels) == k
    # Each cluster's tokens share one label.
    assert all(len(set(labels[i * 10 : (i + 1) * 10])) == 1 for i in range(k))


def test_nested_clusters_give_the_count_of_the_scale_each_threshold_resolves() -> None:
    """Two groups (cosine distance 1) of two sub-clusters each (distance ~0.3 apart)."""
    t = np.sqrt(0.3 / 1.7)  # cos between e + t f and e - t f is (1 - t^2) / (1 + t^2) = 0.7
    e = np.eye(16)
    centres = np.stack([e[0] + t * e[2], e[0] - t * e[2], e[1] + t * e[3], e[1] - t * e[3]])
    counts = counting.agglomerative_counts(
        geometry.gram(_clusters(centres, per=8, noise=0.01)), THRESHOLDS)
    thresholds = np.array(THRESHOLDS)
    np.testing.assert_array_equal(counts[thresholds < 0.28], 4)
    np.testing.assert_array_equal(counts[thresholds > 0.32], 2)


def test_one_collapsed_cluster_counts_one() -> None:
    g = geometry.gram(np.ones((12, 8)))
    assert counting.eigengap_count(g) == 1
    assert counting.count_labels(counting.hdbscan_labels(g)) == 1
    np.testing.assert_array_equal(counting.agglomerative_counts(g, THRESHOLDS), 1)


def test_agglomerative_counts_equal_scipy_fcluster_at_every_threshold() -> None:
    """Reference: fcluster(criterion="distance"), incl. ties and cuts exactly at merge heights."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    rng = np.random.default_rng(3)
    cases = [geometry.gram(rng.standard_normal((n, 8))) for n in (2, 5, 40, 90)]
    cases.append(geometry.gram(np.repeat(rng.standard_normal((6, 8)), 3, axis=0)))  # ties
    for g in cases:
        tree = linkage(squareform(counting.cosine_distance(g), checks=False), method="average")
        thresholds = (*THRESHOLDS, *tree[:, 2][::7].tolist(), 0.0, 2.0)
        expected = [fcluster(tree, t=t, criterion="distance").max() for t in thresholds]
        np.testing.assert_array_equal(counting.agglomerative_counts(g, thresholds), expected)
