"""Q-, K- and V-composition between every pair of heads in different layers (Elhage et al. 2021).

Weights only, read through the adapter (row-vector convention, ``x W``): head ``A`` writes to
the stream through ``W_OV^A = W_V^A W_O^A`` (D x D); head ``B`` of a later layer reads it
through its query (``W_QK^B = W_Q^B W_K^B^T``), its key (``W_QK^B^T = W_K^B W_Q^B^T``) or its
value (``W_OV^B``). The composition score of a pair is

    ``||W_OV^A M_B||_F / (||W_OV^A||_F ||M_B||_F) - baseline``

with ``M_B`` the reading matrix of the mode: Q-composition (A's output feeds B's queries),
K-composition (B's keys, the previous-token -> induction link) and V-composition (B's values).
This is TransformerLens' ``all_composition_scores`` (``OV @ QK``, ``OV @ QK.T``, ``OV @ OV``)
without folding layer norms: as in :mod:`tracker.probes.copying_eigen` the weights are raw (no
norm gain, no bias), so the score works the same on every architecture.

Baseline: the expected score of random matrices of the same shapes, by Monte Carlo. Each of
``baseline_samples`` draws (``numpy`` generator seeded with ``baseline_seed``) makes the four
factors ``W_V, W_O^T, X, Y`` of shape (D, d_head) iid standard Gaussian and scores
``(W_V W_O) (X Y^T)``; the mean is subtracted from every pair and stored as
``composition_baseline`` (with the draws' sd, ``composition_baseline_sd``, the spread an
unrelated pair shows). The three modes share it: their reading matrices are all products of two
(D, d_head) factors, so under the Gaussian null they have one distribution. The score is scale
free, so the Gaussians' variance does not matter. (An isotropic writer gives
``E||AB||^2 = ||A||^2 ||B||^2 / D`` for any reader, so the baseline is about ``1/sqrt(D)``.)

Computation, float64: with ``W_V = Q R`` (reduced QR), ``||W_V W_O Z|| = ||R W_O Z||`` for any
``Z``, and likewise on the reading side, so every pair costs a d_head x d_head product.

Stored: ``q_comp``, ``k_comp``, ``v_comp`` as vectors over the pairs in the static
``pair_names`` order (``L{a}H{i}>L{b}H{j}``, a < b, layer-major), and per reading head the
largest score over earlier heads (``*_comp_max``, NaN in layer 0) so that detection and the
report see composition per head. A head with all-zero weights has no score (NaN).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import torch

from tracker.labels import head_label
from tracker.metric import Metric
from tracker.probes.base import Probe, ProbeConfig, ProbeValues
from tracker.probes.context import ProbeContext
from tracker.probes.registry import register_probe

#: Composition modes, in the order their metrics are stored.
MODES = ("q", "k", "v")


@dataclass(frozen=True)
class CompositionConfig(ProbeConfig):
    """Config of the composition probe.

    Attributes:
        baseline_samples: Gaussian draws of the random-matrix baseline.
        baseline_seed: Seed of those draws.
    """

    baseline_samples: int = 64
    baseline_seed: int = 0


def _r_factor(factor: torch.Tensor) -> torch.Tensor:
    """R of the reduced QR of (..., D, d): ``||factor @ Z|| = ||R @ Z||`` for every Z."""
    return torch.linalg.qr(factor, mode="r")[1]


def writer_factor(w_v: torch.Tensor, w_o: torch.Tensor) -> torch.Tensor:
    """(H, d, D) factor F with ``||F Z|| = ||W_V W_O Z||``; W_V (H, D, d), W_O (H, d, D)."""
    return _r_factor(w_v) @ w_o


def reader_factor(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(H, D, d) factor F with ``||Z F|| = ||Z X Y^T||``; X and Y (H, D, d)."""
    return x @ _r_factor(y).transpose(-1, -2)


def pair_scores(writers: torch.Tensor, readers: torch.Tensor) -> torch.Tensor:
    """``||W_a R_b|| / (||W_a|| ||R_b||)`` for writers (n, d, D), readers (m, D, d): (n, m).

    NaN where either norm is 0 (a head with no weights composes with nothing).
    """
    prod = torch.einsum("adm,bme->abde", writers, readers)
    num = prod.flatten(-2).norm(dim=-1)
    den = writers.flatten(-2).norm(dim=-1)[:, None] * readers.flatten(-2).norm(dim=-1)[None]
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.full_like(num, float("nan")))


@functools.lru_cache(maxsize=16)
def random_baseline(d_model: int, d_head: int, samples: int, seed: int) -> tuple[float, float]:
    """Mean and sd of the score of Gaussian matrices of these shapes (module docstring)."""
    rng = np.random.default_rng(seed)
    draws = torch.from_numpy(rng.standard_normal((samples, 4, d_model, d_head)))
    w = writer_factor(draws[:, 0], draws[:, 1].transpose(-1, -2))
    r = reader_factor(draws[:, 2], draws[:, 3])
    scores = (w @ r).flatten(-2).norm(dim=-1) / (
        w.flatten(-2).norm(dim=-1) * r.flatten(-2).norm(dim=-1))
    scores = scores.numpy()
    return float(scores.mean()), float(scores.std(ddof=1)) if samples > 1 else float("nan")


def head_pairs(n_layers: int, n_heads: int) -> list[tuple[int, int, int, int]]:
    """Every (layer_a, head_a, layer_b, head_b) with layer_a < layer_b, in stored order."""
    heads = list(itertools.product(range(n_layers), range(n_heads)))
    return [(la, ha, lb, hb) for la, ha in heads for lb, hb in heads if la < lb]


def pair_label(pair: tuple[int, int, int, int]) -> str:
    """``L{a}H{i}>L{b}H{j}``: head (a, i) writing into head (b, j)."""
    return f"{head_label(pair[0], pair[1])}>{head_label(pair[2], pair[3])}"


@torch.no_grad()
def composition_matrices(ctx: ProbeContext) -> dict[str, np.ndarray]:
    """Raw (no baseline) scores per mode, (L, H, L, H) indexed [writer, reader]; NaN if a >= b."""
    adapter = ctx.adapter
    n_layers, n_heads = adapter.n_layers, adapter.n_heads
    writers, readers = [], []
    for layer in range(n_layers):
        w_q, w_k, w_v, _, _, _ = (m.double() for m in adapter.qkv_matrices(layer))
        w_o = adapter.out_matrix(layer)[0].double()
        writers.append(writer_factor(w_v, w_o))
        readers.append({"q": reader_factor(w_q, w_k), "k": reader_factor(w_k, w_q),
                        "v": reader_factor(w_v, w_o.transpose(-1, -2))})
    out = {mode: np.full((n_layers, n_heads, n_layers, n_heads), np.nan) for mode in MODES}
    for la in range(n_layers):
        for lb in range(la + 1, n_layers):
            for mode in MODES:
                out[mode][la, :, lb, :] = pair_scores(writers[la], readers[lb][mode]).cpu().numpy()
    return out


@register_probe
class CompositionProbe(Probe[CompositionConfig]):
    """Q-, K-, V-composition of every pair of heads in different layers (module docstring)."""

    name = "composition"
    version = 1
    description = ("Elhage et al.'s Q-/K-/V-composition of every pair of heads in different "
                   "layers, from weights, minus the score of random matrices of the same shapes")
    Config = CompositionConfig

    def _n_pairs(self, ctx: ProbeContext) -> int:
        return len(head_pairs(ctx.adapter.n_layers, ctx.adapter.n_heads))

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Three pair vectors, three per-head maxima and the baseline."""
        n = max(self._n_pairs(ctx), 1)  # a one-layer model has no pairs: one NaN entry
        what = {"q": "queries", "k": "keys", "v": "values"}
        out = [Metric(name=f"{m}_comp", kind="vector", shape=(n,), chance=0.0,
                      higher_is_mechanism=True,
                      description=f"{m.upper()}-composition per pair (static pair_names): "
                                  f"writer's OV into the reader's {what[m]}, minus baseline")
               for m in MODES]
        out += [Metric(name=f"{m}_comp_max", kind="head", chance=0.0, higher_is_mechanism=True,
                       description=f"largest {m.upper()}-composition into this head from an "
                                   "earlier layer's head, minus baseline")
                for m in MODES]
        out += [Metric(name="composition_baseline", kind="scalar", higher_is_mechanism=None,
                       description="mean score of Gaussian matrices of the same shapes"),
                Metric(name="composition_baseline_sd", kind="scalar", higher_is_mechanism=None,
                       description="sd of the score of Gaussian matrices of the same shapes")]
        return out

    def static(self, ctx: ProbeContext) -> dict[str, np.ndarray]:
        """Pair names (the order of the pair vectors) and the pairs as (a, i, b, j) rows."""
        pairs = head_pairs(ctx.adapter.n_layers, ctx.adapter.n_heads)
        return {"pair_names": np.array([pair_label(p) for p in pairs], dtype=object),
                "pairs": np.array(pairs, dtype=np.int64).reshape(-1, 4)}

    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Score every pair from the checkpoint's weights."""
        adapter = ctx.adapter
        base, sd = random_baseline(adapter.d_model, adapter.d_head,
                                   self.config.baseline_samples, self.config.baseline_seed)
        raw = composition_matrices(ctx)
        pairs = head_pairs(adapter.n_layers, adapter.n_heads)
        index = tuple(np.array(pairs, dtype=np.int64).reshape(-1, 4).T)
        out: dict[str, np.ndarray | float] = {
            "composition_baseline": base, "composition_baseline_sd": sd}
        for mode in MODES:
            scores = raw[mode] - base
            out[f"{mode}_comp"] = scores[index] if pairs else np.full(1, np.nan)
            flat = scores.reshape(-1, adapter.n_layers, adapter.n_heads)  # writers x readers
            finite = np.isfinite(flat).any(axis=0)
            best = np.max(np.where(np.isfinite(flat), flat, -np.inf), axis=0)
            out[f"{mode}_comp_max"] = np.where(finite, best, np.nan)
        return out
