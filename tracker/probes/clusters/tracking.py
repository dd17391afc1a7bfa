"""Clusters followed across layers: HDBSCAN clusters of adjacent layers matched by overlap.

Between layer boundaries ``l`` and ``l + 1`` each cluster is a set of token positions (noise
excluded). Their Jaccard overlaps ``|A & B| / |A | B|`` form a matrix on which the Hungarian
assignment (``scipy.optimize.linear_sum_assignment``, maximising total overlap) pairs clusters
one to one; pairs overlapping less than ``min_jaccard`` are not matches. Then:

* a *merge*: an unmatched cluster of layer ``l`` whose best-overlapping cluster at ``l + 1``
  (overlap at least ``min_jaccard``) is matched to another cluster: it was absorbed;
* a *death*: any other unmatched cluster of layer ``l``;
* a *birth*: an unmatched cluster of layer ``l + 1``.

A tracked cluster lives from the boundary where it exists first (the embeddings, or its
birth) along its chain of matches; its *lifespan* is the number of boundaries on that chain.
Clusters alive at the last boundary are cut off there (their lifespans are lower bounds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class Transition:
    """What happened to the clusters between two adjacent layer boundaries.

    Attributes:
        matches: ``(previous cluster, next cluster)`` label pairs matched.
        births: Labels of next-layer clusters with no match.
        deaths: Labels of previous-layer clusters with no match that were not merged.
        merges: Labels of previous-layer clusters absorbed into a matched cluster.
    """

    matches: tuple[tuple[int, int], ...]
    births: tuple[int, ...]
    deaths: tuple[int, ...]
    merges: tuple[int, ...]


def _clusters(labels: np.ndarray) -> dict[int, set[int]]:
    ids = sorted(set(labels.tolist()) - {-1})
    return {c: set(np.flatnonzero(labels == c).tolist()) for c in ids}


def jaccard_matrix(prev: np.ndarray, nxt: np.ndarray) -> tuple[np.ndarray, list[int], list[int]]:
    """Jaccard overlaps (n_prev, n_next) of two labelings' clusters, and their label lists."""
    a, b = _clusters(prev), _clusters(nxt)
    ids_a, ids_b = list(a), list(b)
    out = np.zeros((len(ids_a), len(ids_b)))
    for i, la in enumerate(ids_a):
        for j, lb in enumerate(ids_b):
            out[i, j] = len(a[la] & b[lb]) / len(a[la] | b[lb])
    return out, ids_a, ids_b


def match_layers(prev: np.ndarray, nxt: np.ndarray, min_jaccard: float = 0.1) -> Transition:
    """Match the clusters of two adjacent layers (see the module docstring).

    Args:
        prev: HDBSCAN labels (n,) at layer boundary ``l``.
        nxt: HDBSCAN labels (n,) at ``l + 1`` (same tokens).
        min_jaccard: Smallest overlap of a match or a merge.
    """
    overlap, ids_a, ids_b = jaccard_matrix(prev, nxt)
    pairs: list[tuple[int, int]] = []
    if overlap.size:
        rows, cols = linear_sum_assignment(overlap, maximize=True)
        pairs = [(r, c) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
                 if overlap[r, c] >= min_jaccard]
    matched_a = {r for r, _ in pairs}
    matched_b = {c for _, c in pairs}
    merges, deaths = [], []
    for r in range(len(ids_a)):
        if r in matched_a:
            continue
        best = int(np.argmax(overlap[r])) if len(ids_b) else -1
        if best >= 0 and best in matched_b and overlap[r, best] >= min_jaccard:
            merges.append(ids_a[r])
        else:
            deaths.append(ids_a[r])
    return Transition(
        matches=tuple((ids_a[r], ids_b[c]) for r, c in pairs),
        births=tuple(ids_b[c] for c in range(len(ids_b)) if c not in matched_b),
        deaths=tuple(deaths),
        merges=tuple(merges),
    )


@dataclass(frozen=True)
class Tracks:
    """Clusters followed over all layer boundaries of one sequence.

    Attributes:
        births: (L,) births per transition ``l -> l + 1``.
        deaths: (L,) deaths per transition.
        merges: (L,) merges per transition.
        lifespans: Boundaries lived by each tracked cluster (empty when there is none).
    """

    births: np.ndarray
    deaths: np.ndarray
    merges: np.ndarray
    lifespans: np.ndarray


def track_clusters(labels: list[np.ndarray], min_jaccard: float = 0.1) -> Tracks:
    """Follow clusters through the labelings of consecutive layer boundaries."""
    n_trans = max(len(labels) - 1, 0)
    births, deaths, merges = np.zeros(n_trans), np.zeros(n_trans), np.zeros(n_trans)
    if not labels:
        return Tracks(births, deaths, merges, np.zeros(0))
    # alive: current label -> boundaries lived so far by the chain ending in it.
    alive = {c: 1 for c in sorted(set(labels[0].tolist()) - {-1})}
    ended: list[int] = []
    for layer in range(n_trans):
        step = match_layers(labels[layer], labels[layer + 1], min_jaccard)
        births[layer], deaths[layer] = len(step.births), len(step.deaths)
        merges[layer] = len(step.merges)
        carried = {b: alive[a] + 1 for a, b in step.matches}
        ended += [alive[a] for a in (*step.deaths, *step.merges)]
        alive = {**carried, **{b: 1 for b in step.births}}
    return Tracks(births, deaths, merges, np.array(ended + list(alive.values()), dtype=float))
