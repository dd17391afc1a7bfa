"""The split forward on every registered architecture: the model's own forward when nothing is
patched, per-edge patching, and attribution that agrees with exact patching.

GPT-NeoX's planted-circuit and completeness tests are in ``test_attribution*.py``; here every
architecture the registry holds gets the same checks on a tiny random model of it
(``tests/support/builders``), and the planted induction models of the other architectures
(``tests/support/planted_archs``) get their circuit found.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from tests.circuits.conftest import INDUCTION, induction_task_on
from tests.support.builders import TINY_MODELS, tiny_arch_model
from tests.support.planted_archs import PLANTED_ARCHS, planted_induction
from tracker.circuits import CircuitGraph
from tracker.circuits.attribution import (
    AttributionConfig,
    eap_ig_scores,
    eap_scores,
    exact_edge_scores,
)
from tracker.circuits.split_forward import ReceiverValues, embed, split_forward
from tracker.models import ArchitectureAdapter, get_adapter, supported_model_types

TYPES = supported_model_types()
GEN_SEED = 0

#: Config variants whose forward differs in a way the split forward must follow.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "gpt2-layer-scaled": ("gpt2", {"scale_attn_by_inverse_layer_idx": True}),
    "llama-wide-heads-bias": ("llama", {"head_dim": 16, "attention_bias": True,
                                        "num_key_value_heads": 1}),
    "olmo-clip": ("olmo", {"clip_qkv": 0.5, "scale": 0.5}),
    "gpt_neox-sequential": ("gpt_neox", {"use_parallel_residual": False}),
}


def _model(name: str) -> torch.nn.Module:
    if name in TINY_MODELS:
        return TINY_MODELS[name]()
    model_type, overrides = VARIANTS[name]
    return tiny_arch_model(model_type, seed=5, **overrides)


def _prompts(vocab: int) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """Clean prompts, corrupted ones (position 2 changed) and a logit-difference metric."""
    gen = torch.Generator().manual_seed(GEN_SEED)
    clean = torch.randint(1, vocab, (8, 6), generator=gen)
    corrupt = clean.clone()
    corrupt[:, 2] = torch.randint(1, vocab, (8,), generator=gen)
    answer, wrong = torch.randint(1, vocab, (2, 8), generator=gen)

    def metric(logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        last, idx = logits[:, -1], torch.arange(len(rows))
        return last[idx, answer[rows]] - last[idx, wrong[rows]]

    return clean, corrupt, metric


def _setup(name: str) -> tuple[torch.nn.Module, ArchitectureAdapter, CircuitGraph]:
    model = _model(name)
    adapter = get_adapter(model)
    return model, adapter, CircuitGraph.from_adapter(adapter)


@pytest.mark.parametrize("name", [*TYPES, *VARIANTS])
def test_split_forward_is_the_models_forward(name: str) -> None:
    """With nothing patched: HF logits within 1e-4 and the hooked forward's patterns."""
    model, adapter, graph = _setup(name)
    ids, _, _ = _prompts(model.config.vocab_size)
    with torch.no_grad():
        out = split_forward(adapter, graph, embed(adapter, ids))
        hf = model(ids).logits
        hooked = adapter.forward(ids, capture=["patterns"]).require("patterns")
    assert (out.logits - hf).abs().max() < 1e-4
    assert (torch.stack(out.patterns) - hooked).abs().max() < 1e-5
    # The input node's output is the hooked forward's stream before block 0 (GPT-2's positions).
    with torch.no_grad():
        resid = adapter.forward(ids, capture=["resid"]).require("resid")
    torch.testing.assert_close(out.senders[:, :, 0], resid[0], atol=1e-6, rtol=0)


def test_the_graph_takes_its_block_rule_from_the_adapter() -> None:
    for name in (*TYPES, "gpt_neox-sequential"):
        _, adapter, graph = _setup(name)
        assert graph.parallel is adapter.parallel_residual
        assert (graph.n_layers, graph.n_heads) == (adapter.n_layers, adapter.n_heads)
    assert CircuitGraph.from_adapter(_setup("gpt_neox")[1]).parallel  # the tiny NeoX default
    assert not CircuitGraph.from_adapter(_setup("llama")[1]).parallel


@pytest.mark.parametrize("name", [*TYPES, "olmo-clip"])
def test_patching_every_edge_gives_the_corrupted_run(name: str) -> None:
    model, adapter, graph = _setup(name)
    clean, corrupt, _ = _prompts(model.config.vocab_size)
    mask = ReceiverValues.from_edges(graph, np.ones(graph.n_edges))
    with torch.no_grad():
        corrupted = split_forward(adapter, graph, embed(adapter, corrupt))
        patched = split_forward(adapter, graph, embed(adapter, clean), corrupted.senders, mask)
    assert (patched.logits - corrupted.logits).abs().max() < 1e-4


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("channel", ["q", "k"])
def test_one_patched_query_or_key_edge_moves_only_its_heads_pattern(name: str,
                                                                    channel: str) -> None:
    """Each head reads its own q and k, also where the QK-norm (OLMo 2) spans all heads and
    where heads share a key/value head (grouped-query attention in Llama and OLMo 2)."""
    model, adapter, graph = _setup(name)
    clean, corrupt, _ = _prompts(model.config.vocab_size)
    edge = f"input->L1H1.{channel}"
    one = np.array([e.name == edge for e in graph.edges], dtype=np.float64)
    assert one.sum() == 1
    with torch.no_grad():
        corrupted = split_forward(adapter, graph, embed(adapter, corrupt)).senders
        base = split_forward(adapter, graph, embed(adapter, clean))
        patched = split_forward(adapter, graph, embed(adapter, clean), corrupted,
                                ReceiverValues.from_edges(graph, one))
    moved = (patched.patterns[1] - base.patterns[1]).abs().amax(dim=(0, 2, 3))  # per head
    assert moved[1] > 1e-3
    assert moved[[0, 2, 3]].max() < 1e-6  # float rounding of a differently laid-out input
    assert (patched.patterns[0] - base.patterns[0]).abs().max() == 0


@pytest.mark.parametrize("name", TYPES)
def test_eap_and_eap_ig_rank_edges_like_exact_patching(name: str) -> None:
    """Spearman over all edges against exact patching (3 x 4-head random models, 250 edges
    with GPT-NeoX's parallel block, 262 sequential): EAP 0.91 / 0.97 / 0.89 / 0.77 / 0.85
    and EAP-IG (m=5) 0.93 / 0.97 / 0.88 / 0.76 / 0.80 for gpt_neox / gpt2 / llama / olmo /
    olmo2."""
    model, adapter, graph = _setup(name)
    clean, corrupt, metric = _prompts(model.config.vocab_size)
    args = (graph, adapter, clean, corrupt, metric)
    exact = exact_edge_scores(*args)
    eap = eap_scores(*args, AttributionConfig(batch_size=4))
    ig = eap_ig_scores(*args, AttributionConfig(ig_steps=5))
    assert np.isfinite(exact).all() and np.abs(exact).max() > 1e-3
    assert spearmanr(eap, exact).statistic > 0.7
    assert spearmanr(ig, exact).statistic > 0.7


def _induction_task(model_type: str) -> tuple[Any, ...]:
    """The shared planted induction task (``tests/circuits/conftest.py``) on ``model_type``."""
    return induction_task_on(planted_induction(model_type)).args()


@pytest.mark.parametrize("model_type", PLANTED_ARCHS)
def test_exact_patching_finds_the_planted_induction_circuit(model_type: str) -> None:
    """The four planted edges rank top under exact patching in GPT-2, Llama and OLMo 2, as
    in the planted GPT-NeoX model; EAP-IG (m=10) puts circuit edges top too."""
    args = _induction_task(model_type)
    graph = args[0]
    exact = exact_edge_scores(*args)
    top = {graph.edges[i].name for i in np.argsort(-np.abs(exact))[:4]}
    assert top == INDUCTION
    ig = eap_ig_scores(*args, AttributionConfig(ig_steps=10))
    assert {graph.edges[i].name for i in np.argsort(-np.abs(ig))[:2]} <= INDUCTION
