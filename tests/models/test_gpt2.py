import torch

from tests.support.builders import tiny_arch_model
from tracker.models import get_adapter


def _same_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


def test_weight_accessors_are_views_of_the_conv1d_parameters() -> None:
    model = tiny_arch_model("gpt2", seed=1)
    adapter = get_adapter(model)
    attn = model.transformer.h[1].attn
    w_q, w_k, w_v, b_q, b_k, b_v = adapter.qkv_matrices(1)
    w_o, b_o = adapter.out_matrix(1)
    for t in (w_q, w_k, w_v):
        assert t.shape == (4, 32, 8) and _same_storage(t, attn.c_attn.weight)
    assert _same_storage(w_o, attn.c_proj.weight) and b_o is attn.c_proj.bias
    assert adapter.pos_embed_matrix() is model.transformer.wpe.weight
    # Head 2's query and value by hand equal the fused projection's slices ([q | k | v]).
    x = torch.randn(5, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fused = attn.c_attn(x)
        assert torch.allclose(x @ w_q[2] + b_q[2], fused[:, 16:24], atol=1e-6)
        assert torch.allclose(x @ w_k[1] + b_k[1], fused[:, 32 + 8 : 32 + 16], atol=1e-6)
        assert torch.allclose(x @ w_v[3] + b_v[3], fused[:, 64 + 24 : 64 + 32], atol=1e-6)
        z = torch.randn(5, 4, 8, generator=torch.Generator().manual_seed(1))
        assert torch.allclose(torch.einsum("bhd,hdm->bm", z, w_o) + b_o,
                              attn.c_proj(z.reshape(5, 32)), atol=1e-5)


def test_learned_positions_enter_the_embedding() -> None:
    model = tiny_arch_model("gpt2", seed=2)
    adapter = get_adapter(model)
    ids = torch.tensor([[3, 3, 3, 3]])
    with torch.no_grad():
        out = adapter.forward(ids, {"resid"})
    expected = model.transformer.wte.weight[3] + model.transformer.wpe.weight[:4]
    assert torch.allclose(out.resid[0, 0], expected)
    assert adapter.n_ctx == 128


def test_layer_index_scaling_and_upcast_options_match_hf() -> None:
    model = tiny_arch_model("gpt2", seed=3, scale_attn_by_inverse_layer_idx=True,
                            reorder_and_upcast_attn=True)
    ids = torch.randint(1, 64, (2, 10), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = model(ids, output_attentions=True)
        out = get_adapter(model).forward(ids, {"patterns"})
    assert (out.logits - ref.logits).abs().max() < 1e-4
    assert (out.patterns[1] - ref.attentions[1]).abs().max() < 1e-5
