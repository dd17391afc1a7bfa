"""Every cluster measurement of one sequence, over all layer boundaries.

:func:`analyse_sequence` takes the residual stream of one sequence at every layer boundary
(the embeddings first) and returns per-boundary values, per-transition values (boundary
``l`` to ``l + 1``, one per layer) and the sequence's summaries; the probe averages them over
prompts. The cost is O(n^2 d) per boundary for the Gram matrix plus O(n^3) for the
eigenvalues, the SVD and the clusterings of n tokens (n ~ 100, so milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracker.probes.clusters import counting, geometry, plateaus, tracking
from tracker.probes.clusters.config import ClustersConfig


@dataclass(frozen=True)
class SequenceStats:
    """One sequence's measurements (K = layer boundaries, L = K - 1 transitions, B = betas).

    Attributes:
        ip_mean: (K,) mean pair inner product.
        ip_std: (K,) its standard deviation over pairs.
        mass: (K,) mass near 1.
        hist: (K, bins) inner-product histogram (fractions of pairs).
        energy: (B, K) interaction energies.
        effective_rank: (K,) effective rank of the raw vectors.
        cka: (L,) linear CKA of consecutive boundaries (NaN where either rank is low).
        nn_stability: (L,) nearest-neighbour stability of consecutive boundaries.
        agglomerative: (K, thresholds) agglomerative cluster counts.
        eigengap: (K,) spectral eigengap counts.
        hdbscan: (K,) HDBSCAN cluster counts.
        tracks: Clusters followed across boundaries.
        violations: (B, L) 1.0 where the energy fell by more than the tolerance.
        worst: ``(beta index, transition, drop)`` of the largest fall (NaN if none).
        worst_pairs: (top, 3) ``(i, j, delta)`` of the pairs that fell most there (NaN if none).
        plateaus: Plateaus of the mass near 1 (ranges of boundaries).
        collapse_speed: Least-squares slope of the mass near 1 over boundaries, per layer.
    """

    ip_mean: np.ndarray
    ip_std: np.ndarray
    mass: np.ndarray
    hist: np.ndarray
    energy: np.ndarray
    effective_rank: np.ndarray
    cka: np.ndarray
    nn_stability: np.ndarray
    agglomerative: np.ndarray
    eigengap: np.ndarray
    hdbscan: np.ndarray
    tracks: tracking.Tracks
    violations: np.ndarray
    worst: np.ndarray
    worst_pairs: np.ndarray
    plateaus: list[range]
    collapse_speed: float


def _violations(
    energy: np.ndarray, grams: list[np.ndarray], cfg: ClustersConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    change = np.diff(energy, axis=1)  # (B, L)
    violations = (change < -cfg.energy_tol).astype(float)
    worst = np.full(3, np.nan)
    pairs = np.full((cfg.top_pairs, 3), np.nan)
    if violations.any():
        b, layer = np.unravel_index(int(np.argmin(change)), change.shape)
        worst = np.array([b, layer, change[b, layer]], dtype=float)
        pairs = geometry.energy_drop_pairs(grams[layer], grams[layer + 1], cfg.betas[b],
                                           cfg.top_pairs)
    return violations, worst, pairs


def _slope(values: np.ndarray) -> float:
    if len(values) < 2:
        return float("nan")
    x = np.arange(len(values), dtype=np.float64)
    return float(np.polyfit(x, values, 1)[0])


def analyse_sequence(resid: np.ndarray, cfg: ClustersConfig) -> SequenceStats:
    """Measure one sequence at every layer boundary.

    Args:
        resid: (K, n, d) token vectors per layer boundary (embeddings first), n >= 2.
        cfg: Probe config (thresholds, betas, tolerances).
    """
    resid = np.asarray(resid, dtype=np.float64)
    grams = [geometry.gram(x) for x in resid]
    stats = [geometry.inner_product_stats(g, cfg.mass_threshold, cfg.hist_bins) for g in grams]
    ranks = np.array([geometry.effective_rank(x) for x in resid])
    energy = np.stack([geometry.energies(g, cfg.betas) for g in grams], axis=1)
    labels = [counting.hdbscan_labels(g, cfg.min_cluster_size) for g in grams]
    cka = np.array([
        geometry.linear_cka(a, b) if min(ranks[k], ranks[k + 1]) >= cfg.cka_min_rank
        else np.nan for k, (a, b) in enumerate(zip(grams, grams[1:], strict=False))])
    nn = np.array([geometry.neighbour_stability(a, b)
                   for a, b in zip(grams, grams[1:], strict=False)])
    violations, worst, pairs = _violations(energy, grams, cfg)
    mass = np.array([s[2] for s in stats])
    return SequenceStats(
        ip_mean=np.array([s[0] for s in stats]), ip_std=np.array([s[1] for s in stats]),
        mass=mass, hist=np.stack([s[3] for s in stats]), energy=energy,
        effective_rank=ranks, cka=cka, nn_stability=nn,
        agglomerative=np.stack([counting.agglomerative_counts(g, cfg.thresholds)
                                for g in grams]),
        eigengap=np.array([counting.eigengap_count(g, cfg.eigengap_max_k) for g in grams]),
        hdbscan=np.array([counting.count_labels(lab) for lab in labels]),
        tracks=tracking.track_clusters(labels, cfg.min_jaccard),
        violations=violations, worst=worst, worst_pairs=pairs,
        plateaus=plateaus.find_plateaus(mass, cfg.plateau_layers, cfg.plateau_tol),
        collapse_speed=_slope(mass),
    )
