"""All registered probes through one ProbeContext: shared forward passes, declared metrics."""

from __future__ import annotations

import numpy as np

from tests.support.builders import tiny_model, tiny_tokenizer
from tests.support.planted_models import Planted, repeated_docs
from tracker.probes import InputCache, ProbeContext, make_probes, probe_names
from tracker.probes.inputs import repeated_tokens
from tracker.runner.sweep import run_probes

#: Every registered probe (per-probe contracts: test_probe_contract.py).
PROBES = probe_names()


def _check_shapes(ctx: ProbeContext, probe, values) -> None:  # type: ignore[no-untyped-def]
    adapter = ctx.adapter
    specs = {m.name: m for m in probe.metrics(ctx)}
    assert set(specs) == set(values), probe.name
    for name, value in values.items():
        assert np.shape(value) == specs[name].value_shape(adapter.n_layers, adapter.n_heads), name


def test_all_probes_share_forward_passes(circuits: Planted) -> None:
    """One pass per distinct input: the repeated tokens (induction, copying, sinks and dormant
    share them), the ICL documents, the successor-text prompts and the dormant probe's random
    tokens (its text domain needs documents longer than these). The planted vocab lacks the IOI
    names and the greater-than years, so those probes keep no prompts and run no pass.
    ``batch_size`` is raised so that no input is split into memory chunks (each chunk counts
    as a pass)."""
    ctx = ProbeContext(circuits.model, circuits.tokenizer, batch_size=256)
    ctx.scratch["text_dataset"] = repeated_docs()
    probes = make_probes(PROBES)
    for probe in probes:
        probe.declare(ctx)
    results = {probe.name: probe.run(ctx) for probe in probes}
    assert ctx.forward_count == 4
    for probe in probes:
        _check_shapes(ctx, probe, results[probe.name])
    # The shared pass saw the union of what the three probes declared.
    rep = repeated_tokens(ctx, probes[PROBES.index("induction")].config)
    before = ctx.forward_count
    out = ctx.forward(rep.tokens, {"patterns", "resid"})
    assert out.patterns is not None and out.resid is not None
    assert ctx.forward_count == before
    assert np.isnan(results["ioi"]["ioi_logit_diff"])
    assert results["induction"]["induction_score"][circuits.heads["induction"]] > 0.999
    assert results["icl"]["icl_score"] < -5


def test_all_probes_on_random_tiny_model(tiny_arch) -> None:  # type: ignore[no-untyped-def]
    """A random model of each architecture with a tokenizer that lacks every task word:
    nothing crashes and the passes are shared."""
    model, tok = tiny_arch
    ctx = ProbeContext(model, tok, batch_size=256)
    ctx.scratch["text_dataset"] = [" ".join(f"w{i % 60}" for i in range(k, k + 40))
                                   for k in range(4)]
    probes = make_probes(PROBES)
    for probe in probes:
        probe.declare(ctx)
    for probe in probes:
        _check_shapes(ctx, probe, probe.run(ctx))
    assert ctx.forward_count == 3  # repeated tokens, ICL documents, dormant's random tokens


def test_inputs_built_at_one_checkpoint_give_the_next_the_same_results() -> None:
    """Every probe's memoised inputs are weight-free: a sweep that builds them once for all
    checkpoints stores what building them at each checkpoint would."""
    tok = tiny_tokenizer()
    docs = [" ".join(f"w{i % 60}" for i in range(k, k + 40)) for k in range(4)]
    probes = make_probes(PROBES)
    cache = InputCache()
    run_probes(probes, tiny_model(seed=0), tok, 0, extras={"text_dataset": docs}, inputs=cache)
    assert cache.values  # the first checkpoint built them
    later = tiny_model(seed=1)
    shared = run_probes(probes, later, tok, 1, extras={"text_dataset": docs}, inputs=cache)[0]
    alone = run_probes(probes, later, tok, 1, extras={"text_dataset": docs})[0]
    assert shared.keys() == alone.keys()
    for key, result in alone.items():
        for name, value in result.values.items():
            np.testing.assert_array_equal(shared[key].values[name], value, err_msg=f"{key} {name}")
