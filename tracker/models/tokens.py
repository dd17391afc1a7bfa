"""Token-level helpers shared by everything that turns words into ids."""

from __future__ import annotations

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
