"""Induction-family head scores on repeated random tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from tracker.probes.base import MetricSpec, Probe, ProbeConfig
from tracker.probes.context import ProbeContext
from tracker.probes.inputs import repeated_random_tokens
from tracker.probes.registry import register_probe


@dataclass(frozen=True)
class InductionConfig(ProbeConfig):
    """Config of the induction probe.

    Attributes:
        seq_len: Length of the random block x (the input is [BOS] + x + x).
        n_seqs: Number of random sequences averaged over.
        seed: Seed of the random tokens.
        threshold: Score above which a head counts as an induction head.
    """

    seq_len: int = 50
    n_seqs: int = 16
    seed: int = 0
    threshold: float = 0.4


def stripe_scores(patterns: torch.Tensor, seq_len: int, offset: int) -> np.ndarray:
    """Mean attention from each query of the second copy to ``query - seq_len + offset``.

    Args:
        patterns: (L, B, H, T, T) with T = 1 + 2 * seq_len and BOS at position 0.
        seq_len: Length of the repeated block.
        offset: 1 for induction (token after the earlier occurrence), 0 for duplicate-token.

    Returns:
        (L, H) float64 scores.
    """
    queries = torch.arange(1 + seq_len, 1 + 2 * seq_len)
    keys = queries - seq_len + offset
    picked = patterns[..., queries, keys]  # (L, B, H, seq_len)
    return picked.double().mean(dim=(1, 3)).cpu().numpy()


def previous_token_scores(patterns: torch.Tensor) -> np.ndarray:
    """Mean attention from each position q >= 1 to q - 1; (L, B, H, T, T) -> (L, H)."""
    queries = torch.arange(1, patterns.shape[-1])
    picked = patterns[..., queries, queries - 1]
    return picked.double().mean(dim=(1, 3)).cpu().numpy()


@register_probe
class InductionProbe(Probe):
    """Per-head induction, duplicate-token and previous-token scores.

    Input: [BOS] + x + x with x uniform random tokens (fixed seed). The induction score of a
    head is its attention from each position q of the second copy to q - seq_len + 1 (the
    token after q's earlier occurrence), averaged over all seq_len queries of the second copy
    and all sequences: every averaged entry is a real induction opportunity. The
    duplicate-token score uses q - seq_len (the earlier occurrence itself); the previous-token
    score uses q - 1 over every q >= 1.
    """

    name = "induction"
    version = 1
    description = "induction / duplicate-token / previous-token head scores on repeated tokens"
    Config = InductionConfig

    def _tokens(self, ctx: ProbeContext) -> tuple[torch.Tensor, int]:
        cfg = self.config
        assert isinstance(cfg, InductionConfig)
        return repeated_random_tokens(ctx.model, ctx.tokenizer, cfg.seq_len, 2, cfg.n_seqs, cfg.seed)

    def metrics(self, ctx: ProbeContext) -> list[MetricSpec]:
        """Three (layers, heads) metrics."""
        threshold = self.config.threshold  # type: ignore[attr-defined]
        return [
            MetricSpec("induction_score", "head", "attention to the token after the earlier "
                       "occurrence", True, threshold),
            MetricSpec("duplicate_score", "head", "attention to the earlier occurrence of the "
                       "current token", True, threshold),
            MetricSpec("prev_token_score", "head", "attention to the previous position", True,
                       threshold),
        ]

    def declare(self, ctx: ProbeContext) -> None:
        """Announce the one forward pass over the repeated tokens."""
        ctx.declare(self._tokens(ctx)[0], {"patterns"})

    def run(self, ctx: ProbeContext) -> Mapping[str, np.ndarray]:
        """Score every head."""
        tokens, seq_len = self._tokens(ctx)
        patterns = ctx.forward(tokens, {"patterns"}).patterns
        assert patterns is not None
        return {
            "induction_score": stripe_scores(patterns, seq_len, 1),
            "duplicate_score": stripe_scores(patterns, seq_len, 0),
            "prev_token_score": previous_token_scores(patterns),
        }
