"""Elhage et al.'s (2021) copying score: the eigenvalue ratio of each head's full OV circuit.

For head ``h`` of layer ``l`` the full OV circuit maps a token to logits; in this package's
row-vector convention it is the V x V matrix ``M = W_E W_V[h] W_O[h] W_U`` (Elhage et al.
write it ``W_U W_OV W_E`` for column vectors). The score is ``sum(lambda) / sum(|lambda|)``
over its eigenvalues: +1 when every eigenvalue is positive (the head copies the token it
attends to), -1 when every one is negative (it suppresses it), in [-1, 1].

``M`` is V x V but has rank at most ``d_head``, and ``AB`` and ``BA`` share their nonzero
eigenvalues, so the score is computed from the ``d_head x d_head`` cyclic product
``W_O[h] W_U W_E W_V[h]`` (accumulated in float32, eigenvalues in float64). As in Elhage et
al.'s definition the weights are taken raw: no layer norm, no value or output bias.

Uncertainty: the vocabulary is split (seeded permutation) into ``blocks`` groups of tokens;
the cyclic product is a sum of one term per block, and the standard error is the delete-one-
block jackknife over them, ``sqrt((K - 1) / K * sum_k (s_k - mean(s))^2)``. A bootstrap over
the blocks estimates the same spread, the jackknife erring on the conservative side (it
overestimates a nonlinear statistic's variance; 1.3-1.6x the bootstrap's SE on a tiny random
model, tested), and needs ``K`` eigenvalue problems per head where the bootstrap needs
hundreds: on a Pythia-70m shape those were most of a sweep's time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from tracker.probes.context import ProbeContext


def eigen_ratio(matrices: torch.Tensor) -> torch.Tensor:
    """``sum(lambda) / sum(|lambda|)`` of each matrix (..., n, n) in float64; NaN if all 0."""
    eig = _eigvals(matrices.double())
    total = eig.abs().sum(dim=-1)
    ratio = eig.real.sum(dim=-1) / total.clamp_min(1e-300)
    return torch.where(total > 0, ratio, torch.full_like(ratio, float("nan")))


def _eigvals(matrices: torch.Tensor) -> torch.Tensor:
    """``torch.linalg.eigvals`` with the batch split over torch's CPU threads.

    A batch of small matrices runs one LAPACK call after another on one core (the bootstrap
    is thousands of d_head x d_head matrices per checkpoint, the largest cost of the copying
    probe); the calls release the GIL, so threads run them side by side, each matrix exactly
    as alone.
    """
    workers = torch.get_num_threads()
    if matrices.device.type != "cpu" or matrices.dim() < 3 or workers < 2 or len(matrices) < 2:
        return torch.linalg.eigvals(matrices)
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(torch.linalg.eigvals, matrices.tensor_split(workers)))
    return torch.cat(parts)


@torch.no_grad()
def block_products(ctx: ProbeContext, blocks: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per-block cyclic products ``W_O[h] W_U[:, b] W_E[b] W_V[h]``, one (H, K, d, d) per layer.

    Associated as ``W_O[h] (W_U[:, b] W_E[b]) W_V[h]``: the D x D Gram of each block is
    shared by every layer and head, so the vocabulary is read once per checkpoint, not once
    per layer (2 L H d_head D V multiply-adds become D^2 V + L K H d_head D (D + d_head);
    on a Pythia-70m shape about 6x fewer). Blocks are the outer loop so at most one Gram is
    held at a time. The products accumulate in float32 (a third of float64's time on CPU; the
    score moves by ~1e-7, tested against the float64 V x V definition) and are returned in
    float64 for the eigenvalues.
    """
    adapter = ctx.adapter
    w_e, w_u = adapter.embed_matrix(), adapter.unembed_matrix()
    per_layer: list[list[torch.Tensor]] = [[] for _ in range(adapter.n_layers)]
    for block in blocks:
        block = block.to(w_e.device)
        gram = w_u[:, block].float() @ w_e[block].float()  # (D, D)
        for layer in range(adapter.n_layers):
            w_v = adapter.qkv_matrices(layer)[2].float()  # (H, D, d)
            w_o = adapter.out_matrix(layer)[0].float()  # (H, d, D)
            per_layer[layer].append(torch.matmul(torch.matmul(w_o, gram), w_v))  # (H, d, d)
    return [torch.stack(prods, dim=1).double() for prods in per_layer]


@torch.no_grad()
def copying_eigen_scores(
    ctx: ProbeContext, seed: int, blocks: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the eigenvalue copying score and its jackknife standard error, each (layers, heads).

    Args:
        ctx: Probe context (for weights).
        seed: Seeds the split of the vocabulary into blocks.
        blocks: Number of token blocks the jackknife leaves out one at a time.
    """
    adapter = ctx.adapter
    vocab = min(adapter.embed_matrix().shape[0], adapter.unembed_matrix().shape[1])
    order = torch.from_numpy(np.random.default_rng(seed).permutation(vocab))
    parts = [p for p in torch.tensor_split(order, max(1, min(blocks, vocab))) if len(p)]
    n_parts = len(parts)
    score = np.zeros((adapter.n_layers, adapter.n_heads))
    se = np.full_like(score, np.nan)
    for layer, prods in enumerate(block_products(ctx, parts)):  # (H, K, d, d) each
        total = prods.sum(dim=1)
        score[layer] = eigen_ratio(total).cpu().numpy()
        if n_parts < 2:
            continue
        left_out = eigen_ratio(total.unsqueeze(0) - prods.transpose(0, 1))  # (K, H)
        spread = ((left_out - left_out.mean(dim=0)) ** 2).sum(dim=0)
        se[layer] = torch.sqrt(spread * (n_parts - 1) / n_parts).cpu().numpy()
    return score, se
