import pytest
import torch

from tests.support.builders import tiny_arch_model
from tracker.errors import UnsupportedArchitectureError
from tracker.models import get_adapter


def test_heads_share_the_post_attention_norm_and_sum_to_its_output() -> None:
    model = tiny_arch_model("olmo2", seed=1)
    adapter = get_adapter(model)
    block = model.model.layers[1]
    ids = torch.randint(1, 64, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = adapter.forward(ids, {"resid", "head_out", "attn_out", "mlp_out"})
        w_o, b_o = adapter.out_matrix(1)
        raw_w_o = block.self_attn.o_proj.weight.view(32, 4, 8).permute(1, 2, 0)
        assert torch.allclose(w_o, raw_w_o * block.post_attention_layernorm.weight)
        assert b_o.abs().max() == 0
        assert (out.head_out[1].sum(2) - out.attn_out[1]).abs().max() < 1e-5
        # No norm in front: attention and the MLP read the stream as it is; the MLP's own
        # output norm is part of adapter.mlp.
        x = torch.randn(3, 32)
        assert torch.equal(adapter.attn_norm(1, x), x) and torch.equal(adapter.mlp_norm(1, x), x)
        mid = out.resid[1] + out.attn_out[1]
        expected = block.post_feedforward_layernorm(block.mlp(mid))
        assert (out.mlp_out[1] - expected).abs().max() < 1e-6
        # The attention output is normed: its RMS over D equals that of the norm's gain.
        unit = out.attn_out[1] / block.post_attention_layernorm.weight
        assert torch.allclose(unit.pow(2).mean(-1), torch.ones(()), atol=1e-3)


def test_qk_norm_shapes_the_pattern() -> None:
    model = tiny_arch_model("olmo2", seed=2)
    ids = torch.randint(1, 64, (1, 10), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = get_adapter(model).forward(ids, {"patterns"}).patterns
        model.model.layers[0].self_attn.q_norm.weight.mul_(3.0)
        after = get_adapter(model).forward(ids, {"patterns"}).patterns
        ref = model(ids, output_attentions=True).attentions[0]
    assert (after[0] - ref).abs().max() < 1e-5
    assert (after[0] - before[0]).abs().max() > 0.01


def test_attention_bias_is_refused() -> None:
    with pytest.raises(UnsupportedArchitectureError, match="attention_bias"):
        get_adapter(tiny_arch_model("olmo2", attention_bias=True))
