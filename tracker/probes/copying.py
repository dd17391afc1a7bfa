"""Copying score of each head's OV circuit on the tokens of the repeated-sequence run.

For head ``h`` of layer ``l`` and every source position ``s`` of the first copy of x
(positions ``1..L`` of [BOS] + x repeated, see :mod:`tracker.probes.induction`), take the
head's output if it attended fully to ``s``: ``o = (LN_l(r_l[s]) W_V[h] + b_V[h]) W_O[h]``,
where ``r_l[s]`` is the actual residual stream entering layer ``l`` at ``s`` and ``LN_l`` the
head's own input norm. Read ``o`` through the final norm (minus its bias) and the
unembedding, restricted to the L tokens of that sequence's x, giving logit effects
``delta[s, c]`` for every candidate token ``x[c]``. These are the tokens an induction head
attends to; the question is whether the head, having attended to ``x[s]``, raises the logit
of ``x[s]`` above the other tokens of the context.

* ``copying_top1``: fraction of (sequence, source) pairs with ``delta[s, s]`` strictly
  above every ``delta[s, c]``, ``c != s`` (ties, e.g. a head whose output the unembedding
  ignores, count as failures). Chance is about 1/L. This is an *empirical* top-1 score on
  real residual streams, not Elhage et al.'s copying score.
* ``copying_logit_zscore``: mean of ``(delta[s, s] - mean_c delta[s, c]) / std_c delta[s, c]``
  (0 where the effects are all equal): a continuous version in units of the spread.
* ``copying_eigen``: Elhage et al.'s copying score, see :mod:`tracker.probes.copying_eigen`.

The OV output excludes ``b_V W_O`` by default (``ov_value_bias``; see
:func:`tracker.probes.circuits.head_ov`). The norm's positive per-vector scale does not change
either empirical score. Computed in fp32. Each value's standard error (``NAME_se``) is a
bootstrap over the sequences (a jackknife over blocks of tokens for ``copying_eigen``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tracker.metric import Metric
from tracker.probes.base import Probe, ProbeValues
from tracker.probes.chunks import chunk_slices
from tracker.probes.circuits import attn_norm, final_normed, head_ov, unembed_rows
from tracker.probes.context import ProbeContext
from tracker.probes.copying_eigen import copying_eigen_scores
from tracker.probes.inputs import RepeatedTokens, RepeatedTokensConfig, repeated_tokens
from tracker.probes.ranking import strictly_first
from tracker.probes.registry import register_probe
from tracker.probes.uncertainty import BootstrapConfig, bootstrap_se, with_errors

#: Largest (heads x sequences x tokens x width) float32 output computed at once (8 MB).
_CHUNK_ELEMENTS = 1 << 21


@dataclass(frozen=True)
class CopyingConfig(RepeatedTokensConfig, BootstrapConfig):
    """Config of the copying probe (input fields from :class:`RepeatedTokensConfig`).

    Attributes:
        threshold: ``copying_top1`` above which a head counts as a copying head.
        ov_value_bias: Include ``b_V W_O`` in each head's OV output (excluded by default).
        eigen_blocks: Blocks of vocabulary tokens the eigenvalue score's jackknife leaves out.
    """

    threshold: float = 0.5
    ov_value_bias: bool = False
    eigen_blocks: int = 16


def copying_scores(
    ctx: ProbeContext, resid: torch.Tensor, rep: RepeatedTokens, value_bias: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Return per-sequence (top-1, z-score), each (sequences, layers, heads) float64.

    Args:
        ctx: Probe context (for weights).
        resid: (L + 1, B, T, D) residual streams of the repeated-token run.
        rep: The run's tokens and layout.
        value_bias: Include ``b_V W_O`` in the OV output.
    """
    seq_len = rep.seq_len
    sources = slice(1, 1 + seq_len)
    unembed = unembed_rows(ctx, rep.tokens[:, sources])  # (B, L, D)
    # Sequences in chunks: a layer's (H, B, L, D) outputs and their normed copies are the
    # probe's largest temporaries (0.1 GB at 16 x 100 tokens on a Pythia-70m shape), which
    # set a sweep's peak; each sequence's scores are the same computed in any chunk.
    chunks = chunk_slices(unembed.shape[0], ctx.adapter.n_heads * seq_len * unembed.shape[-1],
                          _CHUNK_ELEMENTS)
    top1, zscore = [], []
    for layer in range(ctx.adapter.n_layers):
        parts = [_layer_scores(ctx, layer, resid[layer][rows, sources], unembed[rows],
                               value_bias)
                 for rows in chunks]
        top1.append(torch.cat([p[0] for p in parts], dim=1))
        zscore.append(torch.cat([p[1] for p in parts], dim=1))
    # (layers, H, B) -> (B, layers, H)
    return (torch.stack(top1).permute(2, 0, 1).cpu().numpy(),
            torch.stack(zscore).permute(2, 0, 1).cpu().numpy())


def _layer_scores(
    ctx: ProbeContext, layer: int, resid: torch.Tensor, unembed: torch.Tensor,
    value_bias: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer's per-sequence (top-1, z-score), each (H, B), of sources ``resid`` (B, L, D)."""
    normed = attn_norm(ctx, layer, resid)
    out = final_normed(ctx, head_ov(ctx, layer, normed, value_bias))  # (H, B, L, D)
    delta = torch.einsum("hbsd,bcd->hbsc", out, unembed.to(out.device))
    del out
    diag = delta.diagonal(dim1=-2, dim2=-1)
    source = torch.arange(delta.shape[-1], device=delta.device)  # the attended token is x[s]
    top1 = strictly_first(delta, source).double().mean(dim=2)
    std = delta.std(dim=-1, unbiased=False)
    spread = std > 1e-5 * delta.abs().amax(dim=-1)
    z = torch.where(spread, (diag - delta.mean(dim=-1)) / std.clamp_min(1e-30), 0.0)
    return top1, z.double().mean(dim=2)


@register_probe
class CopyingProbe(Probe[CopyingConfig]):
    """Per-head copying score of the OV circuit on the attended tokens (module docstring)."""

    name = "copying"
    version = 3  # 3: the eigenvalue score's SE is a block jackknife (was a block bootstrap)
    description = (
        "copying per head: empirical top-1 rate of the OV output raising the attended token's "
        "logit, and Elhage et al.'s eigenvalue copying score"
    )
    Config = CopyingConfig

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Three (layers, heads) metrics, each with its standard error."""
        rep = repeated_tokens(ctx, self.config)
        n_items = rep.tokens.shape[0] * rep.seq_len
        return with_errors([
            Metric(name="copying_top1", kind="head",
                   description="empirical: fraction of attended tokens whose logit the head's "
                               "OV output raises most among the context's tokens",
                   higher_is_mechanism=True, threshold=self.config.threshold,
                   resolution=1.0 / n_items, chance=1.0 / rep.seq_len),
            Metric(name="copying_logit_zscore", kind="head",
                   description="empirical: attended token's OV logit effect in standard "
                               "deviations above the context's tokens",
                   higher_is_mechanism=True, chance=0.0),
            Metric(name="copying_eigen", kind="head",
                   description="Elhage et al.'s copying score: sum(eig)/sum(|eig|) of "
                               "W_E W_OV W_U, in [-1, 1]",
                   higher_is_mechanism=True),
        ])

    def declare(self, ctx: ProbeContext) -> None:
        """Announce the repeated-token pass (residual streams)."""
        ctx.declare(repeated_tokens(ctx, self.config).tokens, {"resid"})

    @torch.no_grad()
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Score every head."""
        cfg = self.config
        rep = repeated_tokens(ctx, cfg)
        resid = ctx.forward(rep.tokens, {"resid"}).require("resid")
        top1, zscore = copying_scores(ctx, resid, rep, cfg.ov_value_bias)
        eigen, eigen_se = copying_eigen_scores(ctx, cfg.bootstrap_seed, cfg.eigen_blocks)
        return {
            "copying_top1": top1.mean(axis=0), "copying_top1_se": bootstrap_se(top1, cfg),
            "copying_logit_zscore": zscore.mean(axis=0),
            "copying_logit_zscore_se": bootstrap_se(zscore, cfg),
            "copying_eigen": eigen, "copying_eigen_se": eigen_se,
        }
