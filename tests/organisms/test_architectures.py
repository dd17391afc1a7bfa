"""The organism suite as a Llama family: same corpus, schedule and sizes, another architecture."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from tracker.models.llama import LlamaAdapter
from tracker.organisms import SuiteInfo, get_suite, suite_names
from tracker.organisms.suite import with_architecture
from tracker.probes import ProbeContext, make_probes
from tracker.sources.hf_cache import repo_folder


def test_llama_suites_differ_from_their_base_only_in_architecture() -> None:
    assert {"default-llama", "tiny-llama", "deep-llama"} <= set(suite_names())
    for name in ("default", "tiny", "deep"):
        base, llama = get_suite(name), get_suite(f"{name}-llama")
        assert llama.corpus == base.corpus
        for a, b in zip(base.models, llama.models, strict=True):
            assert a.architecture == "gpt_neox" and b.architecture == "llama"
            assert dataclasses.replace(b, architecture="gpt_neox") == a
            assert a.key(base.corpus) != b.key(llama.corpus)
    default = get_suite("default-llama")
    assert [default.repo_id(m) for m in default.models][:2] == [
        "organisms/llama-s-seed0", "organisms/llama-m-seed0"]
    with pytest.raises(ValueError, match="architecture"):
        dataclasses.replace(get_suite("tiny").models[0], architecture="mamba")  # type: ignore[arg-type]
    assert with_architecture(get_suite("tiny"), "llama").name == "tiny-llama"


def test_tiny_llama_suite_trains_and_loads_as_llama(tiny_llama_suite: SuiteInfo,
                                                   tiny_suite: SuiteInfo) -> None:
    assert tiny_llama_suite.complete and tiny_llama_suite.wall_seconds < 60
    assert tiny_llama_suite.corpus_dir == tiny_suite.corpus_dir  # one corpus for both
    model = tiny_llama_suite.models[0]
    assert model.architecture == "llama" and model.repo_id == "organisms/tiny-llama-xs-seed0"
    series = model.open()
    ckpts = series.checkpoints()
    neox = tiny_suite.models[0]
    assert [c.step for c in ckpts] == list(neox.steps)
    assert series.tokens_per_step == neox.tokens_per_step
    last = series.load(ckpts[-1])
    config = last.model.config
    assert config.model_type == "llama" and config.num_hidden_layers == neox.n_layers
    assert config.hidden_size == neox.d_model and config.intermediate_size == round(8 * 32 / 3)
    # Same MLP parameter count as the GPT-NeoX organism of that size (biases aside).
    gated = sum(p.numel() for p in last.model.model.layers[0].mlp.parameters())
    assert abs(gated - 2 * 4 * 32 * 32) / (8 * 32 * 32) < 0.02
    meta = json.loads((repo_folder(model.cache_dir, model.repo_id) / "tracker_series.json")
                      .read_text())
    losses = [meta["loss"][str(s)] for s in model.steps[1:]]
    assert losses[-1] < losses[0] - 0.5
    ctx = ProbeContext(last.model, last.tokenizer)
    assert isinstance(ctx.adapter, LlamaAdapter)
    (probe,) = make_probes(["induction"], induction={"n_seqs": 4})
    scores = probe.run(ctx)["induction_score"]
    assert scores.shape == (1, 2) and np.isfinite(scores).all()
    with torch.no_grad():
        ids = torch.tensor([[last.tokenizer.bos_token_id, 5, 6, 7]])
        ours = ctx.adapter.forward(ids).logits
        assert (ours - last.model(ids).logits).abs().max() < 1e-4
