"""Probe inputs built from a tokenizer and a seed, identical across checkpoints."""

from __future__ import annotations

from typing import Any

import torch


def vocab_bounds(model: Any, tokenizer: Any) -> tuple[int, int | None, set[int]]:
    """Return (usable vocab size, BOS id, special ids) for sampling random tokens.

    The usable vocab is the tokenizer's length when known (Pythia pads its embedding beyond the
    tokenizer), else the model's ``vocab_size``.
    """
    vocab = int(model.config.vocab_size)
    bos = None
    special: set[int] = set()
    if tokenizer is not None:
        vocab = min(vocab, len(tokenizer))
        bos = tokenizer.bos_token_id
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
    if bos is None:
        bos = getattr(model.config, "bos_token_id", None)
    return vocab, bos, special


def repeated_random_tokens(
    model: Any,
    tokenizer: Any,
    seq_len: int,
    n_repeats: int,
    n_seqs: int,
    seed: int,
) -> tuple[torch.Tensor, int]:
    """Build [BOS] + x repeated ``n_repeats`` times, x uniform over non-special tokens.

    The sequence length is shrunk to fit the model's context if needed.

    Args:
        model: HF model (for vocab size and context length).
        tokenizer: Its tokenizer, or None.
        seq_len: Length of x.
        n_repeats: Number of copies of x.
        n_seqs: Number of sequences.
        seed: Seed of the generator (inputs are identical at every checkpoint).

    Returns:
        ``(tokens, seq_len)``: (n_seqs, 1 + n_repeats * seq_len) LongTensor and the length of x
        actually used. Position 0 holds BOS (token 0 when the model has none).
    """
    vocab, bos, special = vocab_bounds(model, tokenizer)
    context = int(getattr(model.config, "max_position_embeddings", 1 + n_repeats * seq_len))
    seq_len = max(2, min(seq_len, (context - 1) // n_repeats))
    allowed = torch.tensor([t for t in range(vocab) if t not in special], dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, len(allowed), (n_seqs, seq_len), generator=gen)
    x = allowed[picks]
    first = torch.full((n_seqs, 1), 0 if bos is None else int(bos), dtype=torch.long)
    return torch.cat([first, x.repeat(1, n_repeats)], dim=1), seq_len
