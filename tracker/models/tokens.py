"""Token-level helpers shared by everything that turns words into ids."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def word_token(tokenizer: Any, text: str) -> int | None:
    """Return the id of ``text`` if it is exactly one ordinary token, else None.

    A word counts as a token only if it encodes to exactly one id that is neither special nor
    the unknown token.
    """
    if tokenizer is None:
        return None
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) != 1:
        return None
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    if ids[0] in special or ids[0] == getattr(tokenizer, "unk_token_id", None):
        return None
    return int(ids[0])


def word_tokens(tokenizer: Any, words: Iterable[str]) -> dict[str, int | None]:
    """:func:`word_token` of many words at once: each distinct word encoded once, in a batch.

    Task files repeat a few hundred answer words over thousands of prompts; one call per
    occurrence was most of the circuit probe's time per checkpoint on a small model.
    """
    unique = list(dict.fromkeys(words))
    if tokenizer is None or not unique:
        return dict.fromkeys(unique)
    encoded = tokenizer(unique, add_special_tokens=False)["input_ids"]
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    special.add(getattr(tokenizer, "unk_token_id", None))
    return {word: int(ids[0]) if len(ids) == 1 and ids[0] not in special else None
            for word, ids in zip(unique, encoded, strict=True)}
