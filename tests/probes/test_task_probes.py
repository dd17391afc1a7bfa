"""Task-behaviour probes (IOI, greater-than, successor in text) on planted models."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from tokenizers import Regex, pre_tokenizers

from tests.support.planted_models import Planted, PlantedBuilder, circuits_builder, successor_map
from tracker.probes import ProbeContext, make_probes
from tracker.probes.greater_than import greater_than_prompts
from tracker.probes.ioi import ioi_prompts
from tracker.probes.prompts import load_task_file
from tracker.probes.successor_heads import SUCCESSION_TASKS


def _template_words(*templates: str) -> list[str]:
    words: list[str] = []
    for template in templates:
        literal = re.sub(r"\{[A-Z]+\}", " ", template)
        words += [w for w in re.findall(r"\w+|[^\w\s]+", literal) if w not in words]
    return words


def _run(planted: Planted, name: str, **config: object) -> tuple[dict, ProbeContext]:
    ctx = ProbeContext(planted.model, planted.tokenizer, batch_size=256)  # one chunk
    (probe,) = make_probes([name], **{name: dict(config)})
    probe.declare(ctx)
    return dict(probe.run(ctx)), ctx


# --- IOI ----------------------------------------------------------------------------------
def ioi_model(ov_scale: float, drop: tuple[str, ...] = ()) -> Planted:
    """One head at every position attends equally to the name tokens (flagged in the
    embedding) and writes ``ov_scale * e_name`` for each: at the end of an IOI prompt it sees
    A, B and S, so S (named twice) gets twice IO's share. A negative scale (a suppressor)
    favours IO, a positive one (a plain name mover without S-inhibition) favours S."""
    data = load_task_file("tasks/ioi.json")
    names = [n for n in data["names"] if n not in drop]
    words = _template_words(*data["templates"]) + names + data["places"] + data["objects"]
    builder = PlantedBuilder(words, flags=("name",))
    builder.flag("name", names)
    builder.flag_head(0, 0, "name", names, ov_scale)
    return builder.build()


@torch.no_grad()
def _reference_diffs(planted: Planted) -> np.ndarray:
    """logit(IO) - logit(S) from the HF model on unpadded prompts (grouped by length)."""
    prompts = ioi_prompts(planted.tokenizer, load_task_file("tasks/ioi.json"), 50, 0, [0])
    diffs = np.zeros(len(prompts.clean))
    for length in {len(ids) for ids in prompts.clean}:
        rows = [i for i, ids in enumerate(prompts.clean) if len(ids) == length]
        logits = planted.model(torch.tensor([prompts.clean[i] for i in rows])).logits[:, -1]
        for k, i in enumerate(rows):
            diffs[i] = float(logits[k, prompts.io[i]] - logits[k, prompts.s[i]])
    return diffs


def test_ioi_suppressor_prefers_io() -> None:
    planted = ioi_model(-6.0)
    out, ctx = _run(planted, "ioi")
    assert out["ioi_n_prompts"] == 50.0
    assert out["ioi_accuracy"] == 1.0
    assert out["ioi_logit_diff"] == pytest.approx(_reference_diffs(planted).mean(), abs=1e-4)
    assert out["ioi_logit_diff"] > 1.0
    assert out["ioi_corrupted_logit_diff"] > 0  # ABC: IO absent, S suppressed once
    assert ctx.forward_count == 1  # clean and corrupted prompts in one padded batch


def test_ioi_name_mover_without_inhibition_prefers_s() -> None:
    planted = ioi_model(6.0)
    out, _ = _run(planted, "ioi")
    assert out["ioi_accuracy"] == 0.0
    assert out["ioi_logit_diff"] == pytest.approx(_reference_diffs(planted).mean(), abs=1e-4)
    assert out["ioi_logit_diff"] < -1.0


def test_ioi_keeps_only_single_token_names() -> None:
    out, _ = _run(ioi_model(-6.0, drop=("Mary", "John", "Alice")), "ioi")
    assert 0 < out["ioi_n_prompts"] < 50


# --- greater-than -------------------------------------------------------------------------
def split_years(planted: Planted, pattern: str = r"\d\d") -> Planted:
    """Make the tokenizer split digit runs into the pieces ``pattern`` matches (in place)."""
    planted.tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Whitespace(), pre_tokenizers.Split(Regex(pattern), "isolated")])
    return planted


def gt_model(answer: str) -> Planted:
    """Direct path only: after a century token the logit of ``answer`` rises by 30.

    Its tokenizer splits " 1732" into "17" + "32" itself, as GPT-NeoX's does.
    """
    data = load_task_file("tasks/greater_than.json")
    years = [f"{y:02d}" for y in range(100)]
    words = _template_words(data["template"]) + data["nouns"] + data["centuries"] + years
    builder = PlantedBuilder(words)
    builder.bigram(data["centuries"], answer, 30.0)
    return split_years(builder.build())


def test_greater_than_keeps_only_years_the_tokenizer_splits() -> None:
    """Hanna et al.'s filter: a start year the tokenizer keeps whole (here every 17xx, and
    with a word-level tokenizer every year) drops the prompt; the others are kept."""
    data = load_task_file("tasks/greater_than.json")
    planted = gt_model("99")
    every = greater_than_prompts(planted.tokenizer, data, 200, 0, [])
    assert len(every.clean) == 200
    split_years(planted, r"17\d\d|\d\d")  # " 1732" is now one (unknown) word
    kept = greater_than_prompts(planted.tokenizer, data, 200, 0, [])
    century = planted.tokenizer.convert_tokens_to_ids("17")
    expected = [p for p in every.clean if p[-1] != century]
    assert kept.clean == expected and 150 < len(expected) < 200
    split_years(planted, r"\w+")  # word-level: the year is one word, never two tokens
    assert greater_than_prompts(planted.tokenizer, data, 50, 0, []).clean == []


@pytest.mark.parametrize(("answer", "expected"), [("99", 1.0), ("00", -1.0)])
def test_greater_than_extremes(answer: str, expected: float) -> None:
    out, ctx = _run(gt_model(answer), "greater_than")
    assert out["gt_n_prompts"] == 50.0
    assert out["gt_prob_diff"] == pytest.approx(expected, abs=1e-6)
    assert out["gt_corrupted_prob_diff"] == pytest.approx(expected, abs=1e-6)
    assert out["gt_year_mass"] == pytest.approx(1.0, abs=1e-6)
    assert ctx.forward_count == 1


def test_greater_than_counts_equal_year_as_not_greater() -> None:
    """All mass on "50": +1 for prompts with YY < 50, -1 for YY >= 50 (YY = 50 is not >)."""
    planted = gt_model("50")
    out, _ = _run(planted, "greater_than", n_prompts=200)
    prompts = greater_than_prompts(planted.tokenizer, load_task_file("tasks/greater_than.json"),
                                   200, 0, [0])
    expected = np.mean([1.0 if 50 > yy else -1.0 for yy in prompts.yy])
    assert out["gt_prob_diff"] == pytest.approx(expected, abs=1e-6)
    assert out["gt_corrupted_prob_diff"] == pytest.approx(1.0, abs=1e-6)


# --- successor in running text ------------------------------------------------------------
def test_successor_text_with_planted_model(circuits: Planted) -> None:
    """The successor head (self-attending, OV t -> succ(t)) answers every clean prompt."""
    out, _ = _run(circuits, "successor_text")
    assert out["successor_text_accuracy"] == 1.0
    assert out["successor_text_top1"] == 1.0
    expected_counts = {"numbers": 16, "days": 7, "months": 12, "letters": 6}
    assert out["successor_text_n_prompts"].tolist() == [
        expected_counts.get(t, 0) for t in SUCCESSION_TASKS]
    kept = out["successor_text_n_prompts"] > 0
    assert (out["successor_text_task_accuracy"][kept] == 1.0).all()
    assert np.isnan(out["successor_text_task_accuracy"][~kept]).all()


def test_successor_text_corruption() -> None:
    """A successor head alone reads only the last item: corrupted prompts still succeed.
    Without it the residual's own token wins and nothing succeeds."""
    builder = circuits_builder()
    builder.successor_head(0, 0, successor_map(builder))
    out, _ = _run(builder.build(), "successor_text")
    assert out["successor_text_accuracy"] == 1.0
    assert out["successor_text_corrupted_accuracy"] == 1.0
    out, _ = _run(circuits_builder().build(), "successor_text")
    assert out["successor_text_accuracy"] == 0.0


# --- tokenizers without the words -----------------------------------------------------------
@pytest.mark.parametrize("name", ["ioi", "greater_than", "successor_text"])
def test_missing_words_give_nan_and_zero_prompts(tiny, name: str) -> None:  # type: ignore[no-untyped-def]
    model, tok = tiny
    for tokenizer in (tok, None):
        ctx = ProbeContext(model, tokenizer)
        (probe,) = make_probes([name])
        probe.declare(ctx)
        out = probe.run(ctx)
        counts = [v for k, v in out.items() if "n_prompts" in k]
        assert counts and all(np.all(np.asarray(c) == 0) for c in counts)
        others = [v for k, v in out.items() if "n_prompts" not in k]
        assert all(np.all(np.isnan(v)) for v in others)
        assert ctx.forward_count == 0
