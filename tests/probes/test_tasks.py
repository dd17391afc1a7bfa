"""Prompt helpers: piecewise rendering, single-token checks, right padding."""

from __future__ import annotations

import torch

from tests.support.planted_models import word_tokenizer
from tracker.models.tokens import word_tokens
from tracker.probes import ProbeContext
from tracker.probes.prompts import (
    data_dir,
    last_logits,
    load_task_file,
    pad_right,
    render,
    word_token,
)


def test_data_dir_holds_task_files() -> None:
    assert (data_dir() / "tasks" / "ioi.json").is_file()
    assert "text_templates" in load_task_file("tasks/succession.json")


def test_render_is_piecewise_and_drops_multi_token_keys() -> None:
    tok = word_tokenizer(["Then", ",", "Mary", "John", "went", "to", "the", "store", "."])
    ids = render(tok, "Then, {A} went to the {PLACE}.", {"A": "Mary", "PLACE": "store"}, ("A",))
    expected = ["Then", ",", "Mary", "went", "to", "the", "store", "."]
    assert tok.convert_ids_to_tokens(ids) == expected
    assert render(tok, "Then, {A} went", {"A": "Zoe"}, ("A",)) is None  # unknown: not a token
    assert render(tok, "{SEQ}", {"SEQ": ["Mary", "John"]}) == tok.convert_tokens_to_ids(
        ["Mary", "John"])
    assert word_token(tok, " Mary") == tok.convert_tokens_to_ids("Mary")
    assert word_token(tok, " Mary John") is None
    assert word_token(tok, "<|bos|>") is None  # special tokens are not words
    assert word_token(None, " Mary") is None
    words = [" Mary", " Mary John", "<|bos|>", " Zoe", " John", " Mary"]
    assert word_tokens(tok, words) == {w: word_token(tok, w) for w in words}
    assert word_tokens(None, [" Mary"]) == {" Mary": None}


def test_right_padding_leaves_last_logits_unchanged(tiny) -> None:  # type: ignore[no-untyped-def]
    """Causal attention: real positions never see the right padding, so no mask is needed."""
    model, tok = tiny
    ctx = ProbeContext(model, tok)
    seqs = [[0, 5, 9, 3], [0, 7], [0, 1, 2, 3, 4, 5, 6]]
    tokens, last = pad_right(seqs, pad_id=0)
    assert tokens.shape == (3, 7) and last.tolist() == [3, 1, 6]
    batched = last_logits(ctx, tokens, last)
    for row, seq in enumerate(seqs):
        alone = model(torch.tensor([seq])).logits[0, -1]
        assert torch.allclose(batched[row], alone, atol=1e-5)
