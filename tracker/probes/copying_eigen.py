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
def block_products(
    ctx: ProbeContext, blocks: list[torch.Tensor], out: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-block cyclic products ``W_O[h] W_U[:, b] W_E[b] W_V[h]``, (L, H, K, d, d).

    Associated as ``W_O[h] (W_U[:, b] W_E[b]) W_V[h]``: the D x D Gram of each block is
    shared by every layer and head, so the vocabulary is read once per checkpoint, not once
    per layer (2 L H d_head D V multiply-adds become D^2 V + K D^2 L H d_head + ...; on a
    Pythia-70m shape about 6x fewer). Per block, the Gram meets every head's W_V in one
    product (D x D by D x L H d_head) and the blocks' rows are gathered from the row-major
    weights. Blocks are the outer loop so at most one Gram is held at a time. The products
    accumulate in float32 (a third of float64's time on CPU; the score moves by ~1e-7, tested
    against the float64 V x V definition) and are returned in float64 for the eigenvalues.

    Args:
        ctx: Probe context (for weights).
        blocks: Token ids of each block.
        out: float64 (L, H, K, d, d) tensor (a view is fine) to write the products into.
    """
    adapter = ctx.adapter
    n_layers, n_heads, d_head = adapter.n_layers, adapter.n_heads, adapter.d_head
    embed = adapter.embed_matrix()  # (V, D)
    unembed_rows = adapter.unembed_matrix().T  # (V, D): rows, as the weight is stored
    w_v = torch.cat([adapter.qkv_matrices(layer)[2] for layer in range(n_layers)]).float()
    w_o = torch.cat([adapter.out_matrix(layer)[0] for layer in range(n_layers)]).float()
    width = w_v.shape[1]
    values = w_v.permute(1, 0, 2).reshape(width, -1)  # (D, L H d): every head's W_V side by side
    if out is None:
        out = torch.empty(n_layers, n_heads, len(blocks), d_head, d_head, dtype=torch.float64,
                          device=w_v.device)
    per_block = out.view(n_layers * n_heads, len(blocks), d_head, d_head)
    for k, block in enumerate(blocks):
        block = block.to(embed.device)
        gram = unembed_rows[block].float().T @ embed[block].float()  # (D, D)
        per_head = (gram @ values).view(width, -1, d_head).transpose(0, 1)  # (L H, D, d)
        per_block[:, k] = torch.matmul(w_o, per_head)  # (L H, d, d), widened to float64
    return out


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
    # One eigenvalue batch for the whole checkpoint, built in place (it is the probe's
    # largest buffer): each head's total and, for the jackknife, the total less each block,
    # (L, H, 1 + K, d, d).
    d_head = adapter.d_head
    matrices = torch.empty(adapter.n_layers, adapter.n_heads, 1 + n_parts, d_head, d_head,
                           dtype=torch.float64, device=adapter.embed_matrix().device)
    prods = block_products(ctx, parts, out=matrices[:, :, 1:])  # (L, H, K, d, d)
    torch.sum(prods, dim=2, out=matrices[:, :, 0])
    prods.neg_().add_(matrices[:, :, :1])
    ratios = eigen_ratio(matrices.flatten(0, 2)).view(matrices.shape[:3])
    score = ratios[..., 0].cpu().numpy()
    if n_parts < 2:
        return score, np.full_like(score, np.nan)
    left_out = ratios[..., 1:]
    spread = ((left_out - left_out.mean(dim=-1, keepdim=True)) ** 2).sum(dim=-1)
    se = torch.sqrt(spread * (n_parts - 1) / n_parts).cpu().numpy()
    return score, se
