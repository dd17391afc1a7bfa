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

* ``copying_score``: fraction of (sequence, source) pairs with ``delta[s, s]`` strictly
  above every ``delta[s, c]``, ``c != s`` (ties, e.g. a head whose output the unembedding
  ignores, count as failures). Chance is about 1/L.
* ``copying_zscore``: mean of ``(delta[s, s] - mean_c delta[s, c]) / std_c delta[s, c]``
  (0 where the effects are all equal): a continuous version in units of the spread.

The norm's positive per-vector scale does not change either score. Computed in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tracker.metric import Metric
from tracker.probes.base import Probe, ProbeValues
from tracker.probes.circuits import attn_norm, final_normed, head_ov, unembed_rows
from tracker.probes.context import ProbeContext
from tracker.probes.inputs import RepeatedTokens, RepeatedTokensConfig, repeated_tokens
from tracker.probes.ranking import strictly_first
from tracker.probes.registry import register_probe


@dataclass(frozen=True)
class CopyingConfig(RepeatedTokensConfig):
    """Config of the copying probe (input fields from :class:`RepeatedTokensConfig`).

    Attributes:
        threshold: Copying score above which a head counts as a copying head.
    """

    threshold: float = 0.5


def copying_scores(
    ctx: ProbeContext, resid: torch.Tensor, rep: RepeatedTokens
) -> tuple[np.ndarray, np.ndarray]:
    """Return (copying_score, copying_zscore), each (layers, heads) float64.

    Args:
        ctx: Probe context (for weights).
        resid: (L + 1, B, T, D) residual streams of the repeated-token run.
        rep: The run's tokens and layout.
    """
    seq_len = rep.seq_len
    sources = slice(1, 1 + seq_len)
    unembed = unembed_rows(ctx, rep.tokens[:, sources])  # (B, L, D)
    top1, zscore = [], []
    for layer in range(ctx.adapter.n_layers):
        normed = attn_norm(ctx, layer, resid[layer][:, sources])
        out = final_normed(ctx, head_ov(ctx, layer, normed))  # (H, B, L, D)
        delta = torch.einsum("hbsd,bcd->hbsc", out, unembed.to(out.device))
        diag = delta.diagonal(dim1=-2, dim2=-1)
        source = torch.arange(seq_len, device=delta.device)  # the attended token is x[s]
        top1.append(strictly_first(delta, source).double().mean(dim=(1, 2)))
        std = delta.std(dim=-1, unbiased=False)
        spread = std > 1e-5 * delta.abs().amax(dim=-1)
        z = torch.where(spread, (diag - delta.mean(dim=-1)) / std.clamp_min(1e-30), 0.0)
        zscore.append(z.double().mean(dim=(1, 2)))
    return torch.stack(top1).cpu().numpy(), torch.stack(zscore).cpu().numpy()


@register_probe
class CopyingProbe(Probe[CopyingConfig]):
    """Per-head copying score of the OV circuit on the attended tokens (module docstring)."""

    name = "copying"
    version = 1
    description = (
        "how often each head's OV output, read through the unembedding, raises the logit of "
        "the token it attends to above the context's other tokens"
    )
    Config = CopyingConfig

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Two (layers, heads) metrics."""
        return [
            Metric(name="copying_score", kind="head",
                   description="fraction of attended tokens whose logit the "
                               "head's OV output raises most among the context's tokens",
                   higher_is_mechanism=True,
                   threshold=self.config.threshold),
            Metric(name="copying_zscore", kind="head",
                   description="attended token's OV logit effect in standard "
                               "deviations above the context's tokens",
                   higher_is_mechanism=True),
        ]

    def declare(self, ctx: ProbeContext) -> None:
        """Announce the repeated-token pass (residual streams)."""
        ctx.declare(repeated_tokens(ctx, self.config).tokens, {"resid"})

    @torch.no_grad()
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Score every head."""
        rep = repeated_tokens(ctx, self.config)
        resid = ctx.forward(rep.tokens, {"resid"}).require("resid")
        score, zscore = copying_scores(ctx, resid, rep)
        return {"copying_score": score, "copying_zscore": zscore}
