"""How many clusters one layer's tokens form, counted three ways on cosine geometry.

* agglomerative: average-linkage hierarchical clustering on the cosine distance
  ``1 - G`` (``scipy.cluster.hierarchy``), cut at each distance threshold; the count at a
  threshold is the number of groups whose members are joined below it;
* spectral eigengap: the eigenvalues ``0 = l_1 <= l_2 <= ...`` of the normalised Laplacian
  ``I - D^-1/2 A D^-1/2`` of the affinity ``A = clip(G, 0)`` (negative similarities are no
  affinity); k well-separated groups give k eigenvalues near 0 and then a jump, so
  ``k = argmax_i (l_{i+1} - l_i) + 1`` over the first ``max_k + 1`` eigenvalues;
* HDBSCAN (scikit-learn) on the precomputed cosine distance, noise excluded from the count.
  It may return a single cluster (``allow_single_cluster``): otherwise a fully collapsed
  layer, the state the theory predicts at depth, would read as 0 clusters of noise.

All three are deterministic (no random starts), and none depends on the order of the tokens.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import squareform


def cosine_distance(g: np.ndarray) -> np.ndarray:
    """Cosine distance matrix ``1 - G`` clipped to [0, 2] with an exact zero diagonal."""
    dist = np.clip(1.0 - g, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    return np.asarray((dist + dist.T) / 2.0)  # exact symmetry for the condensed form


def agglomerative_counts(g: np.ndarray, thresholds: tuple[float, ...]) -> np.ndarray:
    """Cluster counts of average-linkage clustering on cosine distance at each threshold."""
    n = g.shape[0]
    if n < 2:
        return np.ones(len(thresholds))
    tree = linkage(squareform(cosine_distance(g), checks=False), method="average")
    # fcluster(criterion="distance") cuts where a merge's largest height in its subtree
    # exceeds t; every merge at or below t removes one group. Counting those merges gives
    # its answer for all thresholds at once (fcluster re-walks the tree per threshold).
    subtree_max = np.empty(n - 1)
    for i, (left, right, height, _) in enumerate(tree):
        subtree_max[i] = max(height,
                             subtree_max[int(left) - n] if left >= n else 0.0,
                             subtree_max[int(right) - n] if right >= n else 0.0)
    merged = (subtree_max[:, None] <= np.asarray(thresholds)[None, :]).sum(axis=0)
    return (n - merged).astype(float)


def eigengap_count(g: np.ndarray, max_k: int = 15) -> float:
    """Cluster count from the largest gap of the normalised Laplacian of ``clip(G, 0)``."""
    n = g.shape[0]
    if n < 3:
        return 1.0
    affinity = np.clip(g, 0.0, None)
    np.fill_diagonal(affinity, 1.0)
    inv_sqrt = 1.0 / np.sqrt(affinity.sum(axis=1))
    lap = np.eye(n) - inv_sqrt[:, None] * affinity * inv_sqrt[None, :]
    eig = np.clip(np.linalg.eigvalsh((lap + lap.T) / 2.0), 0.0, None)[: min(max_k + 1, n)]
    return float(np.argmax(np.diff(eig)) + 1)


def hdbscan_labels(g: np.ndarray, min_cluster_size: int = 2) -> np.ndarray:
    """HDBSCAN labels (n,) on the cosine distance; -1 marks noise."""
    from sklearn.cluster import HDBSCAN  # imported here: sklearn loads slowly

    n = g.shape[0]
    if n < max(2, min_cluster_size):
        return np.full(n, -1)
    model = HDBSCAN(min_cluster_size=min_cluster_size, metric="precomputed",
                    allow_single_cluster=True, copy=True)
    return np.asarray(model.fit_predict(cosine_distance(g)))


def count_labels(labels: np.ndarray) -> float:
    """Return the number of clusters among ``labels`` (noise, -1, excluded)."""
    return float(len(set(labels.tolist()) - {-1}))
