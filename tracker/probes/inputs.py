"""Probe inputs built from a tokenizer and a seed, identical across checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from tracker.models import ArchitectureAdapter
from tracker.probes.base import ProbeConfig
from tracker.probes.context import ProbeContext, bos_id


def vocab_bounds(adapter: ArchitectureAdapter, tokenizer: Any) -> tuple[int, set[int]]:
    """Return (usable vocab size, special ids) for sampling random tokens.

    The usable vocab is the tokenizer's length when known (Pythia pads its embedding beyond the
    tokenizer), else the model's vocabulary.
    """
    vocab = adapter.vocab_size
    special: set[int] = set()
    if tokenizer is not None:
        vocab = min(vocab, len(tokenizer))
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
    return vocab, special



def repeated_random_tokens(
    adapter: ArchitectureAdapter,
    tokenizer: Any,
    seq_len: int,
    n_repeats: int,
    n_seqs: int,
    seed: int,
    distinct: bool = False,
) -> tuple[torch.Tensor, int]:
    """Build [BOS] + x repeated ``n_repeats`` times, x uniform over non-special tokens.

    The sequence length is shrunk to fit the model's context if needed (and, with
    ``distinct``, to the number of usable tokens).

    Args:
        adapter: The model's adapter (for vocabulary and context length).
        tokenizer: Its tokenizer, or None.
        seq_len: Length of x.
        n_repeats: Number of copies of x.
        n_seqs: Number of sequences.
        seed: Seed of the generator (inputs are identical at every checkpoint).
        distinct: Draw the tokens of each x without replacement, so a token's only other
            occurrences are its copies in the other repeats.

    Returns:
        ``(tokens, seq_len)``: (n_seqs, 1 + n_repeats * seq_len) LongTensor and the length of x
        actually used. Position 0 holds BOS (token 0 when the model has none).
    """
    vocab, special = vocab_bounds(adapter, tokenizer)
    bos = bos_id(adapter, tokenizer)
    seq_len = max(2, min(seq_len, (adapter.n_ctx - 1) // n_repeats))
    allowed = torch.tensor([t for t in range(vocab) if t not in special], dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    if distinct:
        seq_len = min(seq_len, len(allowed))
        keys = torch.rand(n_seqs, len(allowed), generator=gen)
        picks = keys.argsort(dim=1)[:, :seq_len]
    else:
        picks = torch.randint(0, len(allowed), (n_seqs, seq_len), generator=gen)
    x = allowed[picks]
    first = torch.full((n_seqs, 1), 0 if bos is None else int(bos), dtype=torch.long)
    return torch.cat([first, x.repeat(1, n_repeats)], dim=1), seq_len


@dataclass(frozen=True)
class RepeatedTokensConfig(ProbeConfig):
    """Config fields of probes that read [BOS] + x repeated (shared by several probes).

    Probes whose configs agree on these fields read the same tokens, so one forward pass
    serves them all.

    Attributes:
        seq_len: Length of the random block x (shrunk to fit the context).
        n_repeats: Number of copies of x (4, as in Olsson et al.'s prefix-matching score).
        n_seqs: Number of random sequences averaged over.
        seed: Seed of the random tokens.
        distinct: Draw each x without replacement (no accidental repeats inside x).
    """

    seq_len: int = 50
    n_repeats: int = 4
    n_seqs: int = 16
    seed: int = 0
    distinct: bool = True


@dataclass(frozen=True)
class RepeatedTokens:
    """The tokens of a repeated-sequence run and their layout.

    Attributes:
        tokens: (n_seqs, 1 + n_repeats * seq_len); position 0 is BOS and copy ``c`` of x
            occupies positions ``1 + c * seq_len .. (c + 1) * seq_len``.
        seq_len: Length of x actually used.
        n_repeats: Number of copies.
    """

    tokens: torch.Tensor
    seq_len: int
    n_repeats: int


def repeated_tokens(ctx: ProbeContext, cfg: RepeatedTokensConfig) -> RepeatedTokens:
    """Return the [BOS] + x * n_repeats tokens of ``cfg`` (memoised in ``ctx.scratch``)."""
    def build() -> RepeatedTokens:
        tokens, seq_len = repeated_random_tokens(
            ctx.adapter, ctx.tokenizer, cfg.seq_len, cfg.n_repeats, cfg.n_seqs, cfg.seed,
            distinct=cfg.distinct,
        )
        return RepeatedTokens(tokens, seq_len, cfg.n_repeats)

    key = (f"repeated_tokens:{cfg.seq_len}:{cfg.n_repeats}:{cfg.n_seqs}:{cfg.seed}:"
           f"{cfg.distinct}")
    return ctx.memo(key, build)
