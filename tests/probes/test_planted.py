"""The planted-model builder does what its docstring claims."""

from __future__ import annotations

import math

import torch

from tests.support.planted_models import ROTARY, ROTARY_BASE, Planted, circuits_builder
from tracker.models import get_adapter
from tracker.probes.inputs import repeated_random_tokens


def test_rotary_gap_claim() -> None:
    """sum_i (1 - cos(k * theta_i)) >= 1.07 for every offset k != 0 in [-1, 255]."""
    theta = ROTARY_BASE ** (-torch.arange(0, ROTARY, 2, dtype=torch.float64) / ROTARY)
    k = torch.tensor([d for d in range(-1, 256) if d != 0], dtype=torch.float64)
    gap = (1 - torch.cos(k[:, None] * theta)).sum(dim=1)
    assert gap.min() >= 1.07


def test_weights_land_where_the_adapter_reads_them() -> None:
    builder = circuits_builder()
    builder.previous_token_head(0, 0)
    builder.induction_head(1, 0)
    planted = builder.build()
    adapter = get_adapter(planted.model)
    for layer in range(2):
        w_q, w_k, w_v, b_q, b_k, _ = adapter.qkv_matrices(layer)
        assert torch.equal(w_q, builder.W_Q[layer]) and torch.equal(w_k, builder.W_K[layer])
        assert torch.equal(w_v, builder.W_V[layer]) and torch.equal(b_q, builder.b_Q[layer])
        assert torch.equal(b_k, builder.b_K[layer])
        assert torch.equal(adapter.out_matrix(layer)[0], builder.W_O[layer])
    assert torch.equal(adapter.unembed_matrix(), builder.W_U)


def test_planted_attention(circuits: Planted) -> None:
    """Previous-token head on q - 1, sink head on 0, at every query of the repeated input."""
    adapter = get_adapter(circuits.model)
    tokens, seq_len = repeated_random_tokens(adapter, circuits.tokenizer, 30, 4, 4, 0,
                                             distinct=True)
    patterns = adapter.forward(tokens, {"patterns"}).require("patterns")
    q = torch.arange(1, tokens.shape[1])
    layer, head = circuits.heads["prev"]
    assert patterns[layer, :, head, q, q - 1].min() > 1 - 1e-6
    layer, head = circuits.heads["sink"]
    assert patterns[layer, :, head, 1:, 0].min() > 1 - 1e-6
    # Duplicate head: every query of a later copy attends to earlier copies of its token.
    layer, head = circuits.heads["duplicate"]
    later = torch.arange(1 + seq_len, tokens.shape[1])
    same = (tokens[:, later, None] == tokens[:, None, :]) & (
        torch.arange(tokens.shape[1])[None, None, :] < later[None, :, None])
    mass = (patterns[layer, :, head][:, later] * same).sum(-1)
    assert mass.min() > 1 - 1e-6
    assert math.isclose(float(circuits.model.gpt_neox.embed_in.weight[0, 0].detach()), 10.0)
