"""``ov_value_bias``: the OV circuit excludes ``b_V W_O`` by default (TransformerLens's OV)."""

from __future__ import annotations

import numpy as np
import torch

from tests.support.planted_models import Planted, circuits_model
from tracker.probes import ProbeContext, make_probes
from tracker.probes.circuits import head_ov

LAYER = 1  # induction (copying OV) head 0 and successor head 1 of the circuits model


def _scores(planted: Planted, value_bias: bool) -> tuple[np.ndarray, np.ndarray]:
    ctx = ProbeContext(planted.model, planted.tokenizer, batch_size=256)
    copying, succession = make_probes(
        ["copying", "successor_heads"], copying={"seq_len": 30, "ov_value_bias": value_bias},
        successor_heads={"ov_value_bias": value_bias})
    return (np.asarray(copying.run(ctx)["copying_top1"]),
            np.asarray(succession.run(ctx)["succession_score"]))


def _set_value_bias(planted: Planted, scale: float) -> torch.Tensor:
    """Give every head of LAYER a random b_V (seeded); return it as (H, d_head)."""
    attn = planted.model.gpt_neox.layers[LAYER].attention
    cfg = planted.model.config
    n_heads, d_head = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
    assert attn.query_key_value.bias is not None
    b_v = scale * torch.randn(n_heads, d_head, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # NeoX packs the fused bias as (head, q/k/v, d_head)
        attn.query_key_value.bias.view(n_heads, 3, d_head)[:, 2] = b_v
    return b_v


def test_value_bias_moves_copying_and_succession_only_when_asked() -> None:
    planted = circuits_model()
    copy_head, succ_head = (LAYER, 0), (LAYER, 1)
    before_copy, before_succ = _scores(planted, value_bias=False)
    assert before_copy[copy_head] == 1.0 and before_succ[succ_head] == 1.0
    _set_value_bias(planted, 100.0)
    default_copy, default_succ = _scores(planted, value_bias=False)
    np.testing.assert_array_equal(default_copy, before_copy)  # b_V is not in the OV circuit
    np.testing.assert_array_equal(default_succ, before_succ)
    biased_copy, biased_succ = _scores(planted, value_bias=True)
    # A push 100x the value vectors, the same for every input, swamps the copied token.
    assert biased_copy[copy_head] < 0.5 and biased_succ[succ_head] < 0.5


@torch.no_grad()
def test_default_ov_is_transformer_lens_w_v_w_o() -> None:
    """TransformerLens's NeoX conversion: W_V from ``query_key_value.weight`` rearranged
    "(i qkv h) m -> qkv i m h", W_O from ``dense.weight`` "m (i h) -> i h m"; OV = W_V W_O and
    b_V is kept apart (folded into b_O). Our OV must match on hand-built weights."""
    planted = circuits_model()
    b_v = _set_value_bias(planted, 3.0)
    attn = planted.model.gpt_neox.layers[LAYER].attention
    cfg = planted.model.config
    n_heads, d_model = cfg.num_attention_heads, cfg.hidden_size
    d_head = d_model // n_heads
    w = attn.query_key_value.weight.float()  # (3 * D, D), rows ordered (i, qkv, h)
    w_v = w.view(n_heads, 3, d_head, d_model)[:, 2].transpose(1, 2)  # (i, m, h)
    w_o = attn.dense.weight.float().view(d_model, n_heads, d_head).permute(1, 2, 0)  # (i, h, m)
    x = torch.randn(5, d_model, generator=torch.Generator().manual_seed(1))
    ctx = ProbeContext(planted.model, planted.tokenizer)
    ov = torch.einsum("nm,imh,ihd->ind", x, w_v, w_o)
    torch.testing.assert_close(head_ov(ctx, LAYER, x, value_bias=False), ov)
    with_bias = ov + torch.einsum("ih,ihd->id", b_v, w_o)[:, None]
    torch.testing.assert_close(head_ov(ctx, LAYER, x, value_bias=True), with_bias)
    assert not torch.allclose(with_bias, ov)
