"""Attention sinks: heads that park attention on the first token, and residual-norm peaks.

Input: the repeated random tokens of :mod:`tracker.probes.induction` ([BOS] + x repeated),
so the pass is shared with the induction-family probes; position 0 holds BOS.

* ``sink_score`` (head): mean over sequences and over queries ``q >= 1`` of ``A[q, 0]``,
  i.e. the attention mass on position 0 divided by the number of queries that can attend
  anywhere else (query 0 sees only itself and is left out).
* ``sink_fraction`` (scalar): fraction of heads whose ``sink_score`` exceeds ``threshold``.
* ``sink_value_norm_ratio`` (head): ``|v[0]| / mean_{p>=1} |v[p]|`` averaged over sequences,
  with ``v[p] = LN_l(r_l[p]) W_V[h] + b_V[h]`` the head's value vectors, as the shared
  forward pass computes them (their norms are captured there, ``value_norms``, rather than
  the vectors recomputed from the residual streams). Sinks in trained models have small
  values (attending to them is a no-op). NaN where all values are zero.
* ``resid_norm_peak`` (layer): for the residual stream after each block, ``max_p |r[p]| /
  median_p |r[p]|`` over positions (lower median), averaged over sequences; large values
  are the "massive activations" that usually sit on the first token.
* ``resid_peak_at_bos`` (layer): fraction of sequences whose residual-norm peak is at 0.

Standard errors (``NAME_se``) are a seeded bootstrap over the sequences, reusing the one
pass's per-sequence values; for ``sink_fraction`` each resample recomputes the head scores
and the fraction above threshold. ``sink_fraction`` moves in steps of ``1/(layers*heads)``
and ``resid_peak_at_bos`` in steps of ``1/n_seqs`` (their resolutions). Chance levels:
``sink_score`` under uniform causal attention is ``mean_{q>=1} 1/(q+1)``;
``resid_peak_at_bos`` is ``1/T`` for a peak at a uniformly random position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tracker.metric import Metric
from tracker.models import Capture
from tracker.probes.base import Probe, ProbeValues
from tracker.probes.context import ProbeContext
from tracker.probes.inputs import RepeatedTokensConfig, repeated_tokens
from tracker.probes.registry import register_probe
from tracker.probes.uncertainty import BootstrapConfig, bootstrap_se, bootstrap_stat_se, with_errors

#: What the probe reads of its pass.
_CAPTURE: frozenset[Capture] = frozenset({"patterns", "resid", "value_norms"})


@dataclass(frozen=True)
class SinkConfig(RepeatedTokensConfig, BootstrapConfig):
    """Config of the attention-sink probe (input fields from :class:`RepeatedTokensConfig`).

    Attributes:
        threshold: ``sink_score`` above which a head counts as a sink head.
    """

    threshold: float = 0.3


def sink_scores(patterns: torch.Tensor) -> np.ndarray:
    """Mean attention from queries q >= 1 to position 0: (L, B, H, T, T) -> (B, L, H)."""
    return patterns[..., 1:, 0].double().mean(dim=3).permute(1, 0, 2).cpu().numpy()


def value_norm_ratios(value_norms: torch.Tensor) -> np.ndarray:
    """``|v[0]| / mean_{p>=1} |v[p]|`` per sequence and head: (L, B, H, T) norms -> (B, L, H)."""
    norms = value_norms.double()
    others = norms[..., 1:].mean(dim=-1)
    ratio = torch.where(others > 0, norms[..., 0] / others.clamp_min(1e-300), torch.nan)
    return ratio.permute(1, 0, 2).cpu().numpy()


def resid_norm_peaks(resid: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence and block output: max/median norm ratio and peak at 0 (1.0 or 0.0).

    Returns:
        Two (B, L) float64 arrays.
    """
    norms = resid[1:].float().norm(dim=-1).double()  # (L, B, T)
    peak, where = norms.max(dim=-1)
    median = norms.median(dim=-1).values
    ratio = torch.where(median > 0, peak / median.clamp_min(1e-300), torch.nan)
    return ratio.T.cpu().numpy(), (where == 0).double().T.cpu().numpy()


@register_probe
class AttentionSinkProbe(Probe[SinkConfig]):
    """Sink heads, their value norms and residual-norm peaks (see the module docstring)."""

    name = "attention_sinks"
    # 3: value norms read from the shared pass's own value vectors (were recomputed from the
    # residual streams in fp32; the same up to float rounding for fp32 models)
    version = 3
    description = (
        "attention mass on the first token per head, sink-head fraction, sink value norms "
        "and residual-norm peaks"
    )
    Config = SinkConfig

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Head, scalar and layer metrics, each with its standard error."""
        threshold = self.config.threshold
        tokens = repeated_tokens(ctx, self.config).tokens
        n_seqs, n_tokens = tokens.shape
        n_heads = ctx.adapter.n_layers * ctx.adapter.n_heads
        return with_errors([
            Metric(name="sink_score", kind="head",
                   description="mean attention of queries q >= 1 to position 0",
                   higher_is_mechanism=True,
                   threshold=threshold,
                   chance=float(np.mean(1.0 / np.arange(2, n_tokens + 1)))),
            Metric(name="sink_fraction", kind="scalar",
                   description=f"fraction of heads with sink_score > {threshold}",
                   higher_is_mechanism=True, resolution=1.0 / n_heads),
            Metric(name="sink_value_norm_ratio", kind="head",
                   description="value norm at position 0 over the mean value norm elsewhere",
                   higher_is_mechanism=False),
            Metric(name="resid_norm_peak", kind="layer",
                   description="max over positions of the residual norm "
                               "after the block, divided by the median",
                   higher_is_mechanism=True),
            Metric(name="resid_peak_at_bos", kind="layer",
                   description="fraction of sequences whose residual-norm peak is at position 0",
                   higher_is_mechanism=True, resolution=1.0 / n_seqs, chance=1.0 / n_tokens),
        ])

    def declare(self, ctx: ProbeContext) -> None:
        """Announce the repeated-token pass (patterns, residual streams, value norms)."""
        ctx.declare(repeated_tokens(ctx, self.config).tokens, _CAPTURE)

    @torch.no_grad()
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Measure sinks."""
        rep = repeated_tokens(ctx, self.config)
        out = ctx.forward(rep.tokens, _CAPTURE)
        cfg = self.config
        scores = sink_scores(out.require("patterns"))
        peak, at_bos = resid_norm_peaks(out.require("resid"))
        per_seq = {"sink_score": scores,
                   "sink_value_norm_ratio": value_norm_ratios(out.require("value_norms")),
                   "resid_norm_peak": peak, "resid_peak_at_bos": at_bos}
        values: dict[str, np.ndarray | float] = {}
        for name, items in per_seq.items():
            values[name] = items.mean(axis=0)
            values[f"{name}_se"] = bootstrap_se(items, cfg)

        def fraction(idx: np.ndarray) -> float:
            return float((scores[idx].mean(axis=0) > cfg.threshold).mean())

        values["sink_fraction"] = fraction(np.arange(len(scores)))
        values["sink_fraction_se"] = float(bootstrap_stat_se(len(scores), fraction, cfg))
        return values
