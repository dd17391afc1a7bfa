"""Memory-saving pieces of the hooked forward give the same numbers as the plain forms."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.support.builders import TINY_MODELS
from tracker.models import get_adapter, supported_model_types
from tracker.models.attention import attend, by_rows, causal_mask


def test_by_rows_equals_one_call_and_chunks_only_without_gradients() -> None:
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.GELU(), torch.nn.Linear(32, 8))
    x = torch.randn(3, 7, 8, generator=torch.Generator().manual_seed(0))
    calls: list[int] = []

    def counted(t: torch.Tensor) -> torch.Tensor:
        calls.append(t.reshape(-1, 8).shape[0])
        return mlp(t)

    with torch.no_grad():
        full = mlp(x)
        chunked = by_rows(counted, x, rows=5)
    assert chunked.shape == full.shape
    assert torch.allclose(chunked, full, atol=1e-6)
    assert calls == [5, 5, 5, 5, 1]  # 21 positions in chunks of 5
    calls.clear()
    by_rows(counted, x, rows=5)  # gradients on: one call, so autograd sees one graph
    assert calls == [21]


def test_in_place_attention_equals_the_softmax_form_and_fills_the_slot() -> None:
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 3, 6, 4, generator=gen) for _ in range(3))
    mask = causal_mask(torch.zeros(2, 6, dtype=torch.long), None, torch.float32)
    expected = F.softmax(q @ k.transpose(2, 3) * 0.5 + mask, dim=-1)
    slot = torch.empty(2, 3, 6, 6)
    with torch.no_grad():
        pattern, z = attend(q, k, v, 0.5, mask, out=slot)
    assert pattern.data_ptr() == slot.data_ptr()
    assert torch.allclose(pattern, expected, atol=1e-6)
    assert torch.allclose(z, expected @ v, atol=1e-6)
    # With gradients the out-of-place form runs (in-place softmax would break backward).
    q.requires_grad_(True)
    pattern, _ = attend(q, k, v, 0.5, mask, out=slot)
    assert pattern.data_ptr() != slot.data_ptr()
    assert torch.allclose(pattern, expected, atol=1e-6)
    pattern.sum().backward()
    assert q.grad is not None


@pytest.mark.parametrize("model_type", supported_model_types())
def test_a_batch_past_the_mlp_chunk_matches_hf(model_type: str) -> None:
    """1,280 positions: the MLPs run in row chunks; patterns and streams still equal HF's
    (to 1e-4: at this batch the BLAS blocking differs from HF's)."""
    model = TINY_MODELS[model_type]()
    ids = torch.randint(1, model.config.vocab_size, (64, 20),
                        generator=torch.Generator().manual_seed(2))
    adapter = get_adapter(model)
    with torch.no_grad():
        out = adapter.forward(ids, {"patterns", "resid"}, logits=False)
        ref = model(ids, output_attentions=True, output_hidden_states=True)
    for layer in range(adapter.n_layers):
        assert (out.patterns[layer] - ref.attentions[layer]).abs().max() < 1e-4
        assert (out.resid[layer] - ref.hidden_states[layer]).abs().max() < 1e-4
