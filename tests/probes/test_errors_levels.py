"""Standard errors, resolutions and chance levels of induction, sinks, IOI and successor text."""

from __future__ import annotations

import numpy as np
import pytest

from tests.probes.test_task_probes import _reference_diffs, _run, ioi_model
from tests.support.planted_models import Planted
from tracker.probes import ProbeContext, make_probes
from tracker.probes.induction import induction_family_scores, uniform_causal_pattern
from tracker.probes.inputs import repeated_tokens
from tracker.probes.uncertainty import BootstrapConfig, bootstrap_se

INDUCTION = ("induction_score", "prefix_matching_score", "duplicate_score", "prev_token_score")


def test_induction_errors_reuse_the_pass_and_chance_is_uniform_attention(
    circuits: Planted,
) -> None:
    ctx = ProbeContext(circuits.model, circuits.tokenizer, batch_size=256)
    (probe,) = make_probes(["induction"], induction={"seq_len": 30})
    probe.declare(ctx)
    out = probe.run(ctx)
    assert ctx.forward_count == 1
    rep = repeated_tokens(ctx, probe.config)
    per_seq = induction_family_scores(ctx.forward(rep.tokens, {"patterns"}).require("patterns"),
                                      rep.seq_len, rep.n_repeats)
    assert ctx.forward_count == 1  # the bootstrap read the memoised pass
    head = circuits.heads["induction"]
    for name in INDUCTION:
        np.testing.assert_array_equal(out[f"{name}_se"], bootstrap_se(per_seq[name], probe.config))
        assert out[f"{name}_se"].shape == (2, 4)
    assert 0 <= out["induction_score_se"][head] < 1e-3  # ~1 on every sequence
    specs = {m.name: m for m in probe.metrics(ctx)}
    t_len, seq_len = rep.tokens.shape[1], rep.seq_len
    assert specs["prev_token_score"].chance == pytest.approx(
        np.mean([1 / (q + 1) for q in range(1, t_len)]))
    assert specs["induction_score"].chance == pytest.approx(
        np.mean([1 / (q + 1) for q in range(1 + seq_len, 1 + 2 * seq_len)]))
    uniform = induction_family_scores(uniform_causal_pattern(t_len), seq_len, rep.n_repeats)
    for name in INDUCTION:
        assert specs[name].chance == pytest.approx(float(uniform[name][0, 0, 0]))
        assert specs[name].resolution is None and specs[f"{name}_se"].error_of == name


def test_sink_errors_and_levels(circuits: Planted) -> None:
    ctx = ProbeContext(circuits.model, circuits.tokenizer, batch_size=256)
    (probe,) = make_probes(["attention_sinks"], attention_sinks={"seq_len": 30})
    out = probe.run(ctx)
    assert out["sink_fraction"] == 1 / 8
    assert out["sink_fraction_se"] == 0.0  # the planted sink is a sink on every resample
    assert out["sink_score_se"][circuits.heads["sink"]] < 1e-3
    for name in ("sink_score", "sink_value_norm_ratio", "resid_norm_peak", "resid_peak_at_bos"):
        assert np.shape(out[f"{name}_se"]) == np.shape(out[name])
    specs = {m.name: m for m in probe.metrics(ctx)}
    t_len = repeated_tokens(ctx, probe.config).tokens.shape[1]
    assert specs["sink_fraction"].resolution == 1 / 8
    assert specs["resid_peak_at_bos"].resolution == 1 / 16
    assert specs["resid_peak_at_bos"].chance == 1 / t_len
    assert specs["sink_score"].chance == pytest.approx(np.mean(1 / np.arange(2, t_len + 1)))


def test_ioi_errors_and_levels() -> None:
    planted = ioi_model(-6.0)
    out, ctx = _run(planted, "ioi")
    assert out["ioi_accuracy"] == 1.0 and out["ioi_accuracy_se"] == 0.0
    cfg = BootstrapConfig()
    assert out["ioi_logit_diff_se"] == pytest.approx(
        float(bootstrap_se(_reference_diffs(planted), cfg)), abs=1e-4)
    assert np.isfinite(out["ioi_corrupted_logit_diff_se"])
    assert "ioi_n_prompts_se" not in out
    (probe,) = make_probes(["ioi"])
    specs = {m.name: m for m in probe.metrics(ctx)}
    assert specs["ioi_accuracy"].resolution == 1 / 50 and specs["ioi_accuracy"].chance == 0.5
    assert specs["ioi_logit_diff"].chance == 0.0


def test_successor_text_errors_and_levels(circuits: Planted) -> None:
    out, ctx = _run(circuits, "successor_text")
    assert out["successor_text_accuracy"] == 1.0 and out["successor_text_accuracy_se"] == 0.0
    kept = out["successor_text_n_prompts"] > 0
    assert (out["successor_text_task_accuracy_se"][kept] == 0.0).all()
    assert np.isnan(out["successor_text_task_accuracy_se"][~kept]).all()
    (probe,) = make_probes(["successor_text"])
    specs = {m.name: m for m in probe.metrics(ctx)}
    prompts = probe.prompt_batch(ctx)[0]  # type: ignore[attr-defined]
    sizes = {"numbers": 16, "days": 7, "months": 12, "letters": 6}  # prompts kept per task
    n = sum(sizes.values())
    task_size = [len(prompts.candidates[t]) for t in prompts.task]
    assert specs["successor_text_accuracy"].resolution == 1 / n
    assert specs["successor_text_accuracy"].chance == pytest.approx(
        np.mean([1 / k for k in task_size]))
    assert specs["successor_text_top1"].chance is None
