import pytest
import torch

from tests.support.builders import tiny_arch_model
from tracker.models import CAPTURE_FIELDS, get_adapter


def _check_against_hf(model, ids: torch.Tensor) -> None:  # type: ignore[no-untyped-def]
    adapter = get_adapter(model)
    with torch.no_grad():
        ref = model(ids, output_attentions=True)
        out = adapter.forward(ids, set(CAPTURE_FIELDS))
    assert (out.logits - ref.logits).abs().max() < 1e-4
    assert (out.patterns - torch.stack(ref.attentions)).abs().max() < 1e-5
    for layer in range(adapter.n_layers):
        _, b_o = adapter.out_matrix(layer)
        assert (out.head_out[layer].sum(2) + b_o - out.attn_out[layer]).abs().max() < 1e-5


IDS = torch.randint(1, 64, (2, 12), generator=torch.Generator().manual_seed(0))


def test_grouped_query_heads_share_their_key_value_head() -> None:
    model = tiny_arch_model("llama", seed=1)  # 4 query heads, 2 key/value heads
    adapter = get_adapter(model)
    assert adapter.n_heads == 4 and adapter.n_kv_heads == 2
    attn = model.model.layers[0].self_attn
    w_q, w_k, w_v, _, _, b_v = adapter.qkv_matrices(0)
    assert w_q.untyped_storage().data_ptr() == attn.q_proj.weight.untyped_storage().data_ptr()
    assert torch.equal(w_k[0], w_k[1]) and torch.equal(w_v[2], w_v[3])
    assert not torch.equal(w_v[1], w_v[2]) and b_v.abs().max() == 0
    x = torch.randn(5, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        v = attn.v_proj(x)  # (5, 2 * 8): key/value head 1 serves query heads 2 and 3
        assert torch.allclose(x @ w_v[3], v[:, 8:16], atol=1e-6)
        assert torch.allclose(x @ w_q[3], attn.q_proj(x)[:, 24:32], atol=1e-6)
    _check_against_hf(model, IDS)


@pytest.mark.parametrize("overrides", [
    {"head_dim": 16},  # heads wider than d_model / n_heads
    {"attention_bias": True, "num_key_value_heads": 1},
    {"tie_word_embeddings": True},
])
def test_config_variants_match_hf(overrides) -> None:  # type: ignore[no-untyped-def]
    model = tiny_arch_model("llama", seed=2, **overrides)
    adapter = get_adapter(model)
    if "head_dim" in overrides:
        assert adapter.d_head == 16 and adapter.qkv_matrices(0)[0].shape == (4, 32, 16)
    if "attention_bias" in overrides:
        b_k = adapter.qkv_matrices(1)[4]
        assert b_k.abs().min() > 0 and torch.equal(b_k[0], b_k[3])
        assert adapter.out_matrix(1)[1] is model.model.layers[1].self_attn.o_proj.bias
    _check_against_hf(model, IDS)


def test_olmo1_clips_qkv_like_hf() -> None:
    clipped = tiny_arch_model("olmo", seed=3, scale=0.5, clip_qkv=0.5)
    free = tiny_arch_model("olmo", seed=3, scale=0.5)
    _check_against_hf(clipped, IDS)
    with torch.no_grad():
        gap = get_adapter(clipped).forward(IDS).logits - get_adapter(free).forward(IDS).logits
    assert gap.abs().max() > 0.1  # the clip is active in this model
