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
    assert out.value_norms.shape == (n_layers, batch, n_heads, seq)
    # Attention patterns are causal probability rows.
    assert torch.allclose(out.patterns.sum(-1), torch.ones(()), atol=1e-5)
    future = torch.triu(torch.ones(seq, seq, dtype=torch.bool), diagonal=1)
    assert out.patterns[..., future].abs().max() == 0
    # Nothing requested, nothing captured but the logits, and those only unless declined.
    with torch.no_grad():
        bare = adapter.forward(ids)
        headless = adapter.forward(ids, {"patterns"}, logits=False)
    assert all(getattr(bare, name) is None for name in CAPTURE_FIELDS if name != "logits")
    assert (bare.logits - logits).abs().max() < 1e-4
    assert headless.logits is None
    assert torch.equal(headless.require("patterns"), out.patterns)


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


def test_patterns_and_streams_match_the_hf_forward(built) -> None:  # type: ignore[no-untyped-def]
    """Patterns equal HF's attention weights; the stream before each block equals HF's
    hidden state (HF reports the last one after the final norm); the MLP output is
    ``mlp(mlp_norm(.))`` of what the block's MLP reads."""
    _, model, adapter, ids, out, _ = built
    with torch.no_grad():
        ref = model(ids, output_attentions=True, output_hidden_states=True)
        for layer in range(adapter.n_layers):
            assert (out.patterns[layer] - ref.attentions[layer]).abs().max() < 1e-5
            assert (out.resid[layer] - ref.hidden_states[layer]).abs().max() < 1e-5
            x = out.resid[layer]
            read = x if adapter.parallel_residual else x + out.attn_out[layer]
            mlp = adapter.mlp(layer, adapter.mlp_norm(layer, read))
            assert (out.mlp_out[layer] - mlp).abs().max() < 1e-5
        final = adapter.final_norm(out.resid[-1])
    assert (final - ref.hidden_states[-1]).abs().max() < 1e-5


def test_attention_mask_matches_hf_on_a_padded_batch(built) -> None:  # type: ignore[no-untyped-def]
    _, model, adapter, ids, _, _ = built
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    with torch.no_grad():
        ours = adapter.forward(ids, attention_mask=mask).logits
        ref = model(ids, attention_mask=mask).logits
    assert (ours[0] - ref[0]).abs().max() < 1e-4
    assert (ours[1, :9] - ref[1, :9]).abs().max() < 1e-4


def test_bf16_runs_and_tracks_fp32(built) -> None:  # type: ignore[no-untyped-def]
    model_type, _, _, ids, out, _ = built
    low = TINY_MODELS[model_type]().to(torch.bfloat16)
    with torch.no_grad():
        got = get_adapter(low).forward(ids, {"patterns", "head_out", "value_norms"})
    assert got.logits.dtype == torch.bfloat16 and got.head_out.dtype == torch.bfloat16
    # Norms are taken in fp32 of the pass's bf16 values: within bf16's rounding of fp32's.
    assert got.value_norms.dtype == torch.float32
    assert (got.value_norms - out.value_norms).abs().max() < 0.05 * out.value_norms.max()
    assert (got.logits.float() - out.logits).abs().max() < 0.1 * out.logits.abs().max()


def test_value_weights_reproduce_the_heads_from_the_pattern(built) -> None:  # type: ignore[no-untyped-def]
    """Per query head, pattern @ (attn_norm(resid) W_V + b_V) @ W_O is the head's output,
    up to the per-position scale of a norm after attention (OLMo 2), which is the same for
    every head: so each head's output is parallel to the one rebuilt from the weights; and
    ``attn_output`` of those per-head values is the attention output."""
    _, _, adapter, _, out, _ = built
    with torch.no_grad():
        for layer in range(adapter.n_layers):
            _, _, w_v, _, _, b_v = adapter.qkv_matrices(layer)
            w_o, _ = adapter.out_matrix(layer)
            normed = adapter.attn_norm(layer, out.resid[layer])  # (B, T, D)
            values = torch.einsum("btd,hde->bhte", normed, w_v) + b_v[None, :, None]
            # The pass's value norms are those of these vectors, per query head.
            assert (out.value_norms[layer] - values.norm(dim=-1)).abs().max() < 1e-5
            z = out.patterns[layer] @ values  # (B, H, T, d_head)
            rebuilt = torch.einsum("bhte,hed->bthd", z, w_o)
            got = out.head_out[layer]
            ratio = (got * rebuilt).sum(-1) / rebuilt.pow(2).sum(-1)  # (B, T, H)
            assert (got - ratio[..., None] * rebuilt).abs().max() < 1e-5
            assert (ratio - ratio[..., :1]).abs().max() < 1e-4  # one scale for all heads
            assert ratio.min() > 0
            # attn_output turns those per-head values into the block's attention output.
            written = adapter.attn_output(layer, z.transpose(1, 2))
            assert (written - out.attn_out[layer]).abs().max() < 1e-5
