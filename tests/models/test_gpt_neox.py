import pytest
import torch

from tests.support.builders import tiny_model
from tracker.models import get_adapter


@pytest.mark.parametrize("parallel", [True, False])
@pytest.mark.parametrize("rotary_pct", [1.0, 0.25])
def test_hooked_forward_matches_hf(parallel, rotary_pct):
    model = tiny_model(seed=3, scale=0.3, use_parallel_residual=parallel, rotary_pct=rotary_pct,
                       num_hidden_layers=3)
    ids = torch.randint(0, 64, (3, 40), generator=torch.Generator().manual_seed(0))
    adapter = get_adapter(model)
    with torch.no_grad():
        ref = model(ids, output_attentions=True, output_hidden_states=True)
        out = adapter.forward(ids, {"resid", "patterns", "head_out", "mlp_out", "attn_out"})
    assert (out.logits - ref.logits).abs().max() < 1e-4
    assert (out.patterns - torch.stack(ref.attentions)).abs().max() < 1e-5
    assert out.resid.shape == (4, 3, 40, 32)
    # HF's hidden states: embeddings, then the output of each block except the last, which
    # it reports after the final norm.
    for layer in range(3):
        assert (out.resid[layer] - ref.hidden_states[layer]).abs().max() < 1e-5
    final = model.gpt_neox.final_layer_norm(out.resid[-1])
    assert (final - ref.hidden_states[-1]).abs().max() < 1e-5
    for layer in range(3):
        _, b_o = adapter.out_matrix(layer)
        assert (out.head_out[layer].sum(2) + b_o - out.attn_out[layer]).abs().max() < 1e-5
        x = out.resid[layer]
        norm_in = x if parallel else x + out.attn_out[layer]
        expected_mlp = adapter.mlp(layer, adapter.mlp_norm(layer, norm_in))
        assert (out.mlp_out[layer] - expected_mlp).abs().max() < 1e-5
        summed = x + out.attn_out[layer] + out.mlp_out[layer]
        assert (out.resid[layer + 1] - summed).abs().max() < 1e-5


def test_weight_accessors_view_the_module_parameters():
    model = tiny_model(seed=1)
    adapter = get_adapter(model)
    w_q, w_k, w_v, b_q, b_k, b_v = adapter.qkv_matrices(0)
    assert w_q.shape == (4, 32, 8) and b_v.shape == (4, 8)
    assert w_v.data_ptr() >= model.gpt_neox.layers[0].attention.query_key_value.weight.data_ptr()
    # Value of head 2 computed by hand equals the HF fused projection's slice.
    x = torch.randn(5, 32)
    fused = model.gpt_neox.layers[0].attention.query_key_value(x).view(5, 4, 24)
    assert torch.allclose(x @ w_v[2] + b_v[2], fused[:, 2, 16:24], atol=1e-6)
    assert torch.allclose(x @ w_q[1] + b_q[1], fused[:, 1, 0:8], atol=1e-6)
    w_o, _ = adapter.out_matrix(0)
    z = torch.randn(5, 4, 8)
    dense = model.gpt_neox.layers[0].attention.dense
    assert torch.allclose(torch.einsum("bhd,hdm->bm", z, w_o) + dense.bias, dense(z.reshape(5, 32)),
                          atol=1e-5)
    assert adapter.unembed_matrix().shape == (32, 64)


def test_attention_mask_matches_hf_on_padded_batch():
    model = tiny_model(seed=2)
    ids = torch.randint(1, 64, (2, 12), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(2, 12, dtype=torch.long)
    mask[1, 9:] = 0
    with torch.no_grad():
        ours = get_adapter(model).forward(ids, attention_mask=mask).logits
        ref = model(ids, attention_mask=mask).logits
    assert (ours[0] - ref[0]).abs().max() < 1e-4
    assert (ours[1, :9] - ref[1, :9]).abs().max() < 1e-4


def test_bf16_runs_and_tracks_fp32():
    model = tiny_model(seed=4)
    ids = torch.randint(0, 64, (1, 20), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = get_adapter(model).forward(ids).logits
        low = get_adapter(model.to(torch.bfloat16)).forward(ids, {"patterns"})
    assert low.logits.dtype == torch.bfloat16
    assert (low.logits.float() - ref).abs().max() < 0.1
