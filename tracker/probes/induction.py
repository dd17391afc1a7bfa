"""Induction-family head scores on [BOS] + x repeated (Olsson et al. 2022).

Layout: x has length L (distinct random tokens by default) and is repeated R times (R = 4 by
default); copy ``c`` (0-based) of x occupies positions ``1 + c*L .. (c+1)*L`` and the token
at ``p = 1 + c*L + i`` is ``x[i]``. Patterns are averaged over the ``n_seqs`` sequences.

* ``prev_token_score``: mean over every query ``q >= 1`` of ``A[q, q-1]``.
* ``induction_score`` (the induction stripe): mean over the L queries of the *second* copy
  (``q = 1 + L + i``) of ``A[q, q - L + 1]``, the token that followed ``x[i]`` in the first
  copy. Because attention is causal these are exactly the entries of the classic
  [BOS] + x + x stripe that are induction events. Entries of the same diagonal with
  ``q <= L`` (the first ones on the stripe, e.g. the last token of the first copy looking at
  ``x[0]``) have no earlier occurrence to copy from and are not counted; later copies are
  left to the prefix-matching score.
* ``prefix_matching_score``: for every query in copies ``c >= 1``, the attention summed over
  all earlier copies ``c' < c`` to the token after ``x[i]`` there
  (``1 + c'*L + i + 1``), averaged over those ``(R-1)*L`` queries.
* ``duplicate_score``: the same with the earlier occurrences of ``x[i]`` themselves
  (``1 + c'*L + i``).

Relation to TransformerLens' ``detect_head`` (``error_measure="mul"``, no exclusions), which
returns ``sum(A * P) / sum(A)`` for a 0/1 detection pattern P on one sequence of T tokens:
each row of A sums to 1, so ``sum(A) = T``. With distinct tokens in x, P marks exactly the
entries above, hence per sequence ``TL_prev = (T-1)/T * prev_token_score``,
``TL_duplicate = (R-1)*L/T * duplicate_score`` and
``TL_induction = (R-1)*L/T * prefix_matching_score``; on the first ``1 + 2L`` tokens
``TL_induction = L/(1+2L) * induction_score``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tracker.metric import Metric
from tracker.probes.base import Probe, ProbeValues
from tracker.probes.context import ProbeContext
from tracker.probes.inputs import RepeatedTokensConfig, repeated_tokens
from tracker.probes.registry import register_probe


@dataclass(frozen=True)
class InductionConfig(RepeatedTokensConfig):
    """Config of the induction probe (input fields from :class:`RepeatedTokensConfig`).

    Attributes:
        threshold: Score above which a head counts as having the mechanism.
    """

    threshold: float = 0.4


def _to_numpy(picked: torch.Tensor) -> np.ndarray:
    """Average (L, B, H, Q) picked attention over sequences and queries -> (L, H) float64."""
    return picked.double().mean(dim=(1, 3)).cpu().numpy()


def previous_token_scores(patterns: torch.Tensor) -> np.ndarray:
    """Mean attention from each position q >= 1 to q - 1; (L, B, H, T, T) -> (L, H)."""
    queries = torch.arange(1, patterns.shape[-1], device=patterns.device)
    return _to_numpy(patterns[..., queries, queries - 1])


def induction_stripe_scores(patterns: torch.Tensor, seq_len: int) -> np.ndarray:
    """Mean attention from each query of the second copy to ``q - seq_len + 1``.

    Args:
        patterns: (L, B, H, T, T), BOS at position 0, T >= 1 + 2 * seq_len.
        seq_len: Length of the repeated block.

    Returns:
        (L, H) float64 scores.
    """
    queries = torch.arange(1 + seq_len, 1 + 2 * seq_len, device=patterns.device)
    return _to_numpy(patterns[..., queries, queries - seq_len + 1])


def earlier_copy_scores(
    patterns: torch.Tensor, seq_len: int, n_repeats: int, offset: int
) -> np.ndarray:
    """Attention summed over all earlier copies, averaged over queries in copies 1..R-1.

    Args:
        patterns: (L, B, H, T, T) with T = 1 + n_repeats * seq_len.
        seq_len: Length of the repeated block.
        n_repeats: Number of copies.
        offset: 1 for prefix matching (token after the earlier occurrence), 0 for duplicates.

    Returns:
        (L, H) float64 scores.
    """
    index = torch.arange(seq_len, device=patterns.device)
    per_copy = []
    for c in range(1, n_repeats):
        queries = 1 + c * seq_len + index
        total = patterns[..., queries, 1 + index + offset]
        for earlier in range(1, c):
            total = total + patterns[..., queries, 1 + earlier * seq_len + index + offset]
        per_copy.append(total)
    return _to_numpy(torch.cat(per_copy, dim=-1))


@register_probe
class InductionProbe(Probe[InductionConfig]):
    """Per-head induction stripe, prefix-matching, duplicate-token and previous-token scores.

    See the module docstring for exactly which attention entries each score averages.
    """

    name = "induction"
    version = 2
    description = (
        "induction stripe / prefix-matching / duplicate-token / previous-token head scores "
        "on repeated random tokens"
    )
    Config = InductionConfig

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Four (layers, heads) metrics."""
        threshold = self.config.threshold
        return [
            Metric(name="induction_score", kind="head",
                   description="attention from the second copy to the "
                               "token after the current token's first occurrence",
                   higher_is_mechanism=True,
                   threshold=threshold),
            Metric(name="prefix_matching_score", kind="head",
                   description="attention to the tokens after all "
                               "earlier occurrences of the current token, summed",
                   higher_is_mechanism=True,
                   threshold=threshold),
            Metric(name="duplicate_score", kind="head",
                   description="attention to all earlier occurrences of the current token, summed",
                   higher_is_mechanism=True,
                   threshold=threshold),
            Metric(name="prev_token_score", kind="head",
                   description="attention to the previous position",
                   higher_is_mechanism=True,
                   threshold=threshold),
        ]

    def declare(self, ctx: ProbeContext) -> None:
        """Announce the one forward pass over the repeated tokens."""
        ctx.declare(repeated_tokens(ctx, self.config).tokens, {"patterns"})

    @torch.no_grad()
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Score every head."""
        rep = repeated_tokens(ctx, self.config)
        if rep.n_repeats < 2:
            raise ValueError("induction probe needs n_repeats >= 2")
        patterns = ctx.forward(rep.tokens, {"patterns"}).require("patterns")
        return {
            "induction_score": induction_stripe_scores(patterns, rep.seq_len),
            "prefix_matching_score": earlier_copy_scores(patterns, rep.seq_len, rep.n_repeats, 1),
            "duplicate_score": earlier_copy_scores(patterns, rep.seq_len, rep.n_repeats, 0),
            "prev_token_score": previous_token_scores(patterns),
        }
