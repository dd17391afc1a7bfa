"""Geometry of one layer's token vectors: inner products, energy, rank, persistence.

Every function takes one sequence's token vectors ``x`` (n, d) in float64 (or their Gram
matrix of L2-normalised vectors, ``G = u u^T`` with ``u_i = x_i / |x_i|``) and returns plain
numbers, so the same code serves every layer, checkpoint and model.

* inner products: over the pairs ``i < j`` of ``G``: mean, standard deviation, the mass near
  1 (fraction above a threshold, 0.9 by default) and a histogram on ``[-1, 1]`` normalised to
  fractions;
* energy ``E_beta = (1 / (2 beta n^2)) sum_{i, j} exp(beta G_ij)`` over all ordered pairs,
  the diagonal included (Geshkovski et al.'s interaction energy): identical vectors give
  ``e^beta / (2 beta)``; an isotropic cloud in high dimension, whose off-diagonal ``G_ij`` tend
  to 0, gives ``1 / (2 beta)`` as n grows;
* effective rank (Roy and Vetterli): ``exp(H(p))`` with ``p = s / sum(s)`` over the singular
  values ``s`` of the *raw* (not normalised, not centred) vectors, as the reference study
  computes it: normalising would discard the spread of token norms that the values measure;
* linear CKA between two layers' normalised vectors, mean-centred over tokens (Kornblith et
  al.): ``<HKH, HLH>_F / (|HKH|_F |HLH|_F)`` with ``K = G_a``, ``L = G_b``;
* nearest-neighbour stability: the fraction of tokens whose nearest other token by cosine is
  the same in both layers.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def normalise(x: np.ndarray) -> np.ndarray:
    """Return the rows of ``x`` scaled to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, _EPS)


def gram(x: np.ndarray) -> np.ndarray:
    """Cosine Gram matrix (n, n) of the rows of ``x``, clipped to [-1, 1]."""
    u = normalise(x)
    return np.clip(u @ u.T, -1.0, 1.0)


def pair_values(g: np.ndarray) -> np.ndarray:
    """Entries ``G_ij`` for ``i < j`` (the upper triangle, row by row)."""
    rows, cols = np.triu_indices(g.shape[0], k=1)
    return np.asarray(g[rows, cols])


def inner_product_stats(
    g: np.ndarray, mass_threshold: float = 0.9, bins: int = 50
) -> tuple[float, float, float, np.ndarray]:
    """Return (mean, std, mass near 1, histogram) of the pair inner products of ``g``.

    Args:
        g: Cosine Gram matrix (n, n), n >= 2.
        mass_threshold: Inner product above which a pair counts toward the mass near 1.
        bins: Histogram bins on [-1, 1].

    Returns:
        Mean and standard deviation over pairs ``i < j``, the fraction of those pairs above
        ``mass_threshold``, and the (bins,) histogram as fractions of the pairs.
    """
    vals = pair_values(g)
    hist, _ = np.histogram(vals, bins=bins, range=(-1.0, 1.0))
    return (float(vals.mean()), float(vals.std()), float((vals > mass_threshold).mean()),
            hist / max(len(vals), 1))


def energies(g: np.ndarray, betas: tuple[float, ...]) -> np.ndarray:
    """Interaction energies ``E_beta`` of a Gram matrix, one per beta: (len(betas),)."""
    n = g.shape[0]
    b = np.asarray(betas, dtype=np.float64)
    sums = np.exp(b[:, None, None] * g[None]).sum(axis=(1, 2))
    return np.asarray(sums / (2.0 * b * n * n))


def energy_drop_pairs(
    g_before: np.ndarray, g_after: np.ndarray, beta: float, top: int
) -> np.ndarray:
    """Return the pairs whose energy terms fell most between two layers.

    Args:
        g_before: Gram matrix of the earlier layer.
        g_after: Gram matrix of the later layer (same tokens).
        beta: Inverse temperature of the energy.
        top: Number of pairs returned.

    Returns:
        (top, 3) rows ``(i, j, delta)`` for pairs ``i < j`` sorted by ``delta`` (the change of
        the pair's two terms ``2 (exp(beta G'_ij) - exp(beta G_ij)) / (2 beta n^2)``), most
        negative first; rows past the number of pairs are NaN.
    """
    n = g_before.shape[0]
    rows, cols = np.triu_indices(n, k=1)
    delta = 2.0 * (np.exp(beta * g_after[rows, cols]) - np.exp(beta * g_before[rows, cols]))
    delta /= 2.0 * beta * n * n
    order = np.argsort(delta, kind="stable")[:top]
    out = np.full((top, 3), np.nan)
    out[: len(order)] = np.stack([rows[order], cols[order], delta[order]], axis=1)
    return out


def effective_rank(x: np.ndarray) -> float:
    """``exp`` of the entropy of the normalised singular values of the raw vectors ``x``."""
    s = np.linalg.svd(np.asarray(x, dtype=np.float64), compute_uv=False)
    s = s[s > _EPS * max(float(s.max(initial=0.0)), 1.0)]
    if s.size == 0:
        return 0.0
    p = s / s.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def _centred(g: np.ndarray) -> np.ndarray:
    return np.asarray(g - g.mean(axis=0, keepdims=True) - g.mean(axis=1, keepdims=True)
                      + g.mean())


def linear_cka(g_a: np.ndarray, g_b: np.ndarray) -> float:
    """Linear CKA of two layers from their Gram matrices (NaN when either is constant).

    With ``X``, ``Y`` the normalised vectors, ``G = X X^T``; centring the Gram matrices on
    both sides equals centring the vectors over tokens, and ``<HKH, HLH>_F`` equals
    ``|Y_c^T X_c|_F^2``, so this is the feature-space formula at O(n^2) cost.
    """
    ka, kb = _centred(g_a), _centred(g_b)
    denom = float(np.linalg.norm(ka) * np.linalg.norm(kb))
    if denom < _EPS:
        return float("nan")
    return float(np.clip((ka * kb).sum() / denom, 0.0, 1.0))


def nearest_neighbours(g: np.ndarray) -> np.ndarray:
    """Index of each token's nearest other token by cosine (ties: the lowest index)."""
    masked = g.copy()
    np.fill_diagonal(masked, -np.inf)
    return np.asarray(masked.argmax(axis=1))


def neighbour_stability(g_a: np.ndarray, g_b: np.ndarray) -> float:
    """Fraction of tokens whose nearest cosine neighbour is the same in both layers."""
    return float((nearest_neighbours(g_a) == nearest_neighbours(g_b)).mean())
