"""Successor-heads probe: planted successor head, kept pairs, effective embeddings, bf16 ties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.support.builders import TINY_MODELS
from tests.support.planted_models import (
    DAYS,
    KEPT_PAIRS,
    MONTHS,
    Planted,
    circuits_builder,
    successor_map,
    word_tokenizer,
)
from tracker.probes import ProbeContext, make_probes, probe_class
from tracker.probes.prompts import load_task_file
from tracker.probes.successor_heads import (
    SUCCESSION_TASKS,
    effective_embedding,
    succession_tasks,
)


def _run(planted: Planted, **config: object) -> dict[str, np.ndarray]:
    ctx = ProbeContext(planted.model, planted.tokenizer)
    (probe,) = make_probes(["successor_heads"], successor_heads=dict(config))
    return dict(probe.run(ctx))


@pytest.mark.parametrize("variant", ["embed", "mlp0", "attn_mlp0"])
def test_planted_successor_head(circuits: Planted, variant: str) -> None:
    """The planted head's OV maps e_t to e_succ(t): every kept pair succeeds; other heads
    (copying, previous-token into an unread block, zero) never rank the successor first."""
    out = _run(circuits, effective_embedding=variant)
    scores = out["succession_score"]
    head = circuits.heads["successor"]
    assert scores[head] == 1.0
    assert np.delete(scores.ravel(), np.ravel_multi_index(head, scores.shape)).max() == 0.0
    assert out["succession_pairs"].tolist() == [KEPT_PAIRS[t] for t in SUCCESSION_TASKS]
    kept = out["succession_pairs"] > 0
    assert (out["succession_task_best"][kept] == 1.0).all()
    assert np.isnan(out["succession_task_best"][~kept]).all()
    # The per-task table: the planted head gets every kept pair of every task right, with no
    # spread over resampled pairs; tasks with no kept pair are NaN.
    for task, n_pairs in zip(SUCCESSION_TASKS, out["succession_pairs"], strict=True):
        table = out[f"succession_{task}"]
        if n_pairs:
            assert table[head] == 1.0 and out[f"succession_{task}_se"][head] == 0.0
            assert np.nanmax(np.delete(table.ravel(), np.ravel_multi_index(head, table.shape))) == 0
        else:
            assert np.isnan(table).all()
    assert out["succession_score_se"][head] == 0.0


def test_pairs_keep_single_tokens_and_wrap() -> None:
    tok = word_tokenizer([d for d in DAYS if d != "Wednesday"] + ["1", "2", "4"])
    data = load_task_file("tasks/succession.json")
    days, numbers = succession_tasks(tok, data, ("days", "numbers"))
    # Mon-Tue, Thu-Fri, Fri-Sat, Sat-Sun and the wrap Sun-Mon; no pair touches Wednesday.
    assert len(days.ids) == 6 and len(days.pairs) == 5
    assert (days.ids.index(tok.convert_tokens_to_ids("Sunday")),
            days.ids.index(tok.convert_tokens_to_ids("Monday"))) in days.pairs
    assert len(numbers.pairs) == 1  # 1-2 only; numbers do not wrap


def _tie_model(dtype: torch.dtype) -> Planted:
    """Successor head (1, 1); head (1, 2) writes e_succ(t) + e_t with equal weights (a tie);
    head (1, 3) writes e_t only (a copier).

    The tie head covers the cyclic tasks only (days, months): there every output dim is
    written by exactly two value dims (the token's own and its predecessor's), so the small
    layer-norm offsets that every value dim picks up add equally to both logits and the tie
    is exact. (On a chain like 1..20 the ends break that symmetry.)
    """
    builder = circuits_builder()
    succ = successor_map(builder)
    builder.successor_head(1, 1, succ)
    cyclic = set(builder.ids(DAYS + MONTHS))
    ties = {t: {s: 3.0, t: 3.0} for t, s in succ.items() if t in cyclic}
    builder.ov_head(1, 2, ties, "tie")
    builder.ov_head(1, 3, {t: {t: 3.0} for t in succ}, "copy")
    planted = builder.build()
    planted.model.to(dtype)
    return planted


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_ties_count_as_failures(dtype: torch.dtype) -> None:
    """Exact ties (and the all-equal logits of zero heads) never count, in fp32 or bf16."""
    planted = _tie_model(dtype)
    scores = _run(planted)["succession_score"]
    assert scores[planted.heads["successor"]] == 1.0
    assert scores[planted.heads["tie"]] == 0.0
    assert scores[planted.heads["copy"]] == 0.0
    assert scores[0].max() == 0.0


def test_bf16_scores_match_fp32(circuits: Planted) -> None:
    fp32 = _run(circuits)["succession_score"]
    planted = _tie_model(torch.bfloat16)
    assert planted.model.gpt_neox.embed_in.weight.dtype == torch.bfloat16
    bf16 = _run(planted)["succession_score"]
    assert bf16[1, 1] == fp32[1, 1] == 1.0


def test_without_tokenizer_reports_nan(circuits: Planted) -> None:
    ctx = ProbeContext(circuits.model, None)
    out = probe_class("successor_heads")().run(ctx)
    assert np.isnan(out["succession_score"]).all()
    assert (out["succession_pairs"] == 0).all()


def test_config_validation_and_hash() -> None:
    cls = probe_class("successor_heads")
    with pytest.raises(ValueError):
        cls(effective_embedding="bogus")
    listed = cls(tasks=["days", "months"])
    assert listed.config.tasks == ("days", "months")
    hash(listed.config)
    assert listed.config_hash != cls().config_hash


@pytest.mark.parametrize("model_type", sorted(TINY_MODELS))
def test_attn_mlp0_embedding_is_the_stream_after_block_0_of_one_token(model_type: str) -> None:
    """For a one-token input attention 0 can only attend to the token itself, so the
    ``attn_mlp0`` effective embedding is the stream after block 0, parallel block or
    sequential, with or without a norm after attention (GPT-2's position 0 embedding is zeroed
    so that only the token enters)."""
    model = TINY_MODELS[model_type]()
    if model_type == "gpt2":
        with torch.no_grad():
            model.transformer.wpe.weight.zero_()
    ctx = ProbeContext(model, None)
    ids = torch.arange(1, 20)
    with torch.no_grad():
        stream = ctx.adapter.forward(ids[:, None], {"resid"}).require("resid")[1, :, 0]
        got = effective_embedding(ctx, ids, "attn_mlp0")
        assert (got - stream).abs().max() < 1e-5
        mlp_only = effective_embedding(ctx, ids, "mlp0")
        assert (mlp_only - stream).abs().max() > 1e-3  # attention 0 does matter here
        low = ProbeContext(TINY_MODELS[model_type]().to(torch.bfloat16), None)
        assert effective_embedding(low, ids, "attn_mlp0").dtype == torch.float32
