"""What every registered architecture adapter promises, checked on a tiny model of each type."""

from __future__ import annotations

import pytest
import torch

from tests.support.builders import TINY_MODELS
from tests.support.contracts import concrete_subclasses_in_package
from tracker.models import CAPTURE_FIELDS, ArchitectureAdapter, get_adapter, supported_model_types

TYPES = supported_model_types()


@pytest.fixture(scope="module", params=TYPES)
def built(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """(model type, tiny model, its adapter, a hooked forward capturing everything, HF logits)."""
    model_type = request.param
    assert model_type in TINY_MODELS, f"add a tiny {model_type} builder to tests/support/builders"
    model = TINY_MODELS[model_type]()
    ids = torch.randint(1, model.config.vocab_size, (2, 12),
                        generator=torch.Generator().manual_seed(0))
    adapter = get_adapter(model)
    with torch.no_grad():
        out = adapter.forward(ids, set(CAPTURE_FIELDS))
        logits = model(ids).logits
    return model_type, model, adapter, ids, out, logits


def test_every_adapter_class_in_the_package_is_registered() -> None:
    classes = concrete_subclasses_in_package("tracker.models", ArchitectureAdapter)
    assert classes
    types = [model_type for cls in classes for model_type in cls.model_types]
    assert all(cls.model_types for cls in classes)
    assert sorted(types) == TYPES and len(set(types)) == len(types)


def test_adapter_is_the_registered_one_and_reads_the_config(built) -> None:  # type: ignore[no-untyped-def]
    model_type, model, adapter, _, _, _ = built
    assert isinstance(adapter, ArchitectureAdapter)
    assert model.config.model_type == model_type and model_type in type(adapter).model_types
    assert adapter.model is model
    assert adapter.n_layers == model.config.num_hidden_layers
    assert adapter.n_heads == model.config.num_attention_heads
    assert adapter.d_model == model.config.hidden_size
    assert adapter.d_head * adapter.n_heads == adapter.d_model
    assert adapter.device == torch.device("cpu") and adapter.dtype == torch.float32
    assert isinstance(adapter.parallel_residual, bool)


def test_hooked_forward_matches_the_model_and_has_the_documented_shapes(built) -> None:  # type: ignore[no-untyped-def]
    _, model, adapter, ids, out, logits = built
    n_layers, n_heads, d_model = adapter.n_layers, adapter.n_heads, adapter.d_model
    batch, seq = ids.shape
    vocab = model.config.vocab_size
    assert out.logits.shape == (batch, seq, vocab)
    assert (out.logits - logits).abs().max() < 1e-4
    assert out.resid.shape == (n_layers + 1, batch, seq, d_model)
    assert out.patterns.shape == (n_layers, batch, n_heads, seq, seq)
    assert out.head_out.shape == (n_layers, batch, seq, n_heads, d_model)
    assert out.mlp_out.shape == (n_layers, batch, seq, d_model)
    assert out.attn_out.shape == (n_layers, batch, seq, d_model)
    # Attention patterns are causal probability rows.
    assert torch.allclose(out.patterns.sum(-1), torch.ones(()), atol=1e-5)
    future = torch.triu(torch.ones(seq, seq, dtype=torch.bool), diagonal=1)
    assert out.patterns[..., future].abs().max() == 0
    # Nothing requested, nothing captured.
    with torch.no_grad():
        bare = adapter.forward(ids)
    assert all(getattr(bare, name) is None for name in CAPTURE_FIELDS)
    assert (bare.logits - logits).abs().max() < 1e-4


def test_captured_pieces_add_up(built) -> None:  # type: ignore[no-untyped-def]
    """Heads sum to the attention output (plus the projection bias), each block adds its
    attention and MLP outputs to the stream, and the final norm and unembedding give the
    logits."""
    _, _, adapter, _, out, logits = built
    with torch.no_grad():
        for layer in range(adapter.n_layers):
            _, b_o = adapter.out_matrix(layer)
            heads = out.head_out[layer].sum(2) + b_o
            assert (heads - out.attn_out[layer]).abs().max() < 1e-5
            summed = out.resid[layer] + out.attn_out[layer] + out.mlp_out[layer]
            assert (out.resid[layer + 1] - summed).abs().max() < 1e-5
        final = adapter.final_norm(out.resid[-1]) @ adapter.unembed_matrix()
    assert (final - logits).abs().max() < 1e-4


def test_weight_matrices_have_the_documented_shapes(built) -> None:  # type: ignore[no-untyped-def]
    _, model, adapter, _, _, _ = built
    n_heads, d_model, d_head = adapter.n_heads, adapter.d_model, adapter.d_head
    vocab = model.config.vocab_size
    assert adapter.embed_matrix().shape == (vocab, d_model)
    assert adapter.unembed_matrix().shape == (d_model, vocab)
    for layer in range(adapter.n_layers):
        w_q, w_k, w_v, b_q, b_k, b_v = adapter.qkv_matrices(layer)
        for w in (w_q, w_k, w_v):
            assert w.shape == (n_heads, d_model, d_head)
        for b in (b_q, b_k, b_v):
            assert b.shape == (n_heads, d_head)
        w_o, b_o = adapter.out_matrix(layer)
        assert w_o.shape == (n_heads, d_head, d_model) and b_o.shape == (d_model,)
        x = torch.randn(3, d_model, generator=torch.Generator().manual_seed(layer))
        assert adapter.attn_norm(layer, x).shape == x.shape
        assert adapter.mlp_norm(layer, x).shape == x.shape
        assert adapter.mlp(layer, x).shape == x.shape
