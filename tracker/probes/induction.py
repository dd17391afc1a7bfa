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

Each score's standard error (``NAME_se``) is a seeded bootstrap over the sequences, reusing the
one pass's per-sequence scores. Each metric's ``chance`` is its value under uniform causal
attention (``A[q, k] = 1/(q+1)``), the pattern of a head with no positional or token
preference, computed with the same score function on that pattern. Scores are attention
means, continuous, so they have no resolution.
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
from tracker.probes.uncertainty import BootstrapConfig, bootstrap_se, with_errors


@dataclass(frozen=True)
class InductionConfig(RepeatedTokensConfig, BootstrapConfig):
    """Config of the induction probe (input fields from :class:`RepeatedTokensConfig`).

    Attributes:
        threshold: Score above which a head counts as having the mechanism.
    """

    threshold: float = 0.4


def _to_numpy(picked: torch.Tensor, per_sequence: bool) -> np.ndarray:
    """Average (L, B, H, Q) picked attention over queries (and sequences unless per_sequence).

    Returns:
        (L, H) float64, or (B, L, H) with ``per_sequence``.
    """
    per_seq = picked.double().mean(dim=3).permute(1, 0, 2)  # (B, L, H)
    return (per_seq if per_sequence else per_seq.mean(dim=0)).cpu().numpy()


def previous_token_scores(patterns: torch.Tensor, per_sequence: bool = False) -> np.ndarray:
    """Mean attention from each position q >= 1 to q - 1; (L, B, H, T, T) -> (L, H).

    With ``per_sequence`` the scores of each sequence, (B, L, H), are returned instead.
    """
    queries = torch.arange(1, patterns.shape[-1], device=patterns.device)
    return _to_numpy(patterns[..., queries, queries - 1], per_sequence)


def induction_stripe_scores(
    patterns: torch.Tensor, seq_len: int, per_sequence: bool = False
) -> np.ndarray:
    """Mean attention from each query of the second copy to ``q - seq_len + 1``.

    Args:
        patterns: (L, B, H, T, T), BOS at position 0, T >= 1 + 2 * seq_len.
        seq_len: Length of the repeated block.
        per_sequence: Return each sequence's scores, (B, L, H).

    Returns:
        (L, H) float64 scores (averaged over sequences).
    """
    queries = torch.arange(1 + seq_len, 1 + 2 * seq_len, device=patterns.device)
    return _to_numpy(patterns[..., queries, queries - seq_len + 1], per_sequence)


def earlier_copy_scores(
    patterns: torch.Tensor, seq_len: int, n_repeats: int, offset: int,
    per_sequence: bool = False,
) -> np.ndarray:
    """Attention summed over all earlier copies, averaged over queries in copies 1..R-1.

    Args:
        patterns: (L, B, H, T, T) with T = 1 + n_repeats * seq_len.
        seq_len: Length of the repeated block.
        n_repeats: Number of copies.
        offset: 1 for prefix matching (token after the earlier occurrence), 0 for duplicates.
        per_sequence: Return each sequence's scores, (B, L, H).

    Returns:
        (L, H) float64 scores (averaged over sequences).
    """
    index = torch.arange(seq_len, device=patterns.device)
    per_copy = []
    for c in range(1, n_repeats):
        queries = 1 + c * seq_len + index
        total = patterns[..., queries, 1 + index + offset]
        for earlier in range(1, c):
            total = total + patterns[..., queries, 1 + earlier * seq_len + index + offset]
        per_copy.append(total)
    return _to_numpy(torch.cat(per_copy, dim=-1), per_sequence)


def uniform_causal_pattern(n_tokens: int) -> torch.Tensor:
    """(1, 1, 1, T, T) pattern of uniform causal attention, ``A[q, k] = 1/(q+1)`` for k <= q."""
    causal = torch.tril(torch.ones(n_tokens, n_tokens, dtype=torch.float64))
    return (causal / causal.sum(dim=-1, keepdim=True))[None, None, None]


def induction_family_scores(
    patterns: torch.Tensor, seq_len: int, n_repeats: int
) -> dict[str, np.ndarray]:
    """Per-sequence (B, L, H) scores of the four metrics, keyed by metric name."""
    return {
        "induction_score": induction_stripe_scores(patterns, seq_len, True),
        "prefix_matching_score": earlier_copy_scores(patterns, seq_len, n_repeats, 1, True),
        "duplicate_score": earlier_copy_scores(patterns, seq_len, n_repeats, 0, True),
        "prev_token_score": previous_token_scores(patterns, True),
    }


@register_probe
class InductionProbe(Probe[InductionConfig]):
    """Per-head induction stripe, prefix-matching, duplicate-token and previous-token scores.

    See the module docstring for exactly which attention entries each score averages.
    """

    name = "induction"
    version = 3
    description = (
        "induction stripe / prefix-matching / duplicate-token / previous-token head scores "
        "on repeated random tokens"
    )
    Config = InductionConfig

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Four (layers, heads) metrics, each with its standard error."""
        threshold = self.config.threshold
        rep = repeated_tokens(ctx, self.config)
        chance = {name: float(value[0, 0, 0]) for name, value in induction_family_scores(
            uniform_causal_pattern(rep.tokens.shape[1]), rep.seq_len, rep.n_repeats).items()}
        return with_errors([
            Metric(name="induction_score", kind="head",
                   description="attention from the second copy to the "
                               "token after the current token's first occurrence",
                   higher_is_mechanism=True,
                   threshold=threshold, chance=chance["induction_score"]),
            Metric(name="prefix_matching_score", kind="head",
                   description="attention to the tokens after all "
                               "earlier occurrences of the current token, summed",
                   higher_is_mechanism=True,
                   threshold=threshold, chance=chance["prefix_matching_score"]),
            Metric(name="duplicate_score", kind="head",
                   description="attention to all earlier occurrences of the current token, summed",
                   higher_is_mechanism=True,
                   threshold=threshold, chance=chance["duplicate_score"]),
            Metric(name="prev_token_score", kind="head",
                   description="attention to the previous position",
                   higher_is_mechanism=True,
                   threshold=threshold, chance=chance["prev_token_score"]),
        ])

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
        out: dict[str, np.ndarray] = {}
        for name, per_seq in induction_family_scores(patterns, rep.seq_len,
                                                     rep.n_repeats).items():
            out[name] = per_seq.mean(axis=0)
            out[f"{name}_se"] = bootstrap_se(per_seq, self.config)
        return out
