"""Copying and attention-sink probes on the planted model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.support.builders import tiny_model, tiny_tokenizer
from tests.support.planted_archs import PLANTED_ARCHS, planted_induction
from tests.support.planted_models import Planted, circuits_model
from tracker.probes import ProbeContext, make_probes
from tracker.probes import copying as copying_module
from tracker.probes.circuits import attn_norm, head_values
from tracker.probes.copying import copying_scores
from tracker.probes.inputs import repeated_tokens


def _others(values: np.ndarray, head: tuple[int, int]) -> np.ndarray:
    return np.delete(values.ravel(), np.ravel_multi_index(head, values.shape))


def test_copying_head(circuits: Planted) -> None:
    """The induction head's OV copies (writes e_t for the attended t): score 1.

    The previous-token head writes into a block the unembedding ignores, so its logit effects
    all tie (failures); the successor head raises the successor, not the token; zero heads
    output nothing.
    """
    ctx = ProbeContext(circuits.model, circuits.tokenizer)
    (probe,) = make_probes(["copying"], copying={"seq_len": 30})
    scores = probe.run(ctx)
    head = circuits.heads["induction"]
    assert scores["copying_top1"][head] == 1.0
    assert _others(scores["copying_top1"], head).max() < 0.2
    # delta is (3 * g) on the attended token and equal elsewhere: z = sqrt(L - 1) exactly.
    assert abs(scores["copying_logit_zscore"][head] - np.sqrt(29)) < 1e-3
    assert np.abs(_others(scores["copying_logit_zscore"], head)).max() < 1.0
    assert scores["copying_logit_zscore"][circuits.heads["prev"]] == 0.0


@pytest.mark.parametrize("sequences_per_chunk", [1, 3])
def test_copying_scores_are_the_same_in_any_chunks_of_sequences(
    monkeypatch: pytest.MonkeyPatch, sequences_per_chunk: int
) -> None:
    """Sequences are scored in chunks to bound the temporaries; each row is the same."""
    ctx = ProbeContext(tiny_model(seed=2, scale=0.5), tiny_tokenizer())
    (probe,) = make_probes(["copying"], copying={"seq_len": 12, "n_seqs": 8})
    rep = repeated_tokens(ctx, probe.config)
    per_sequence = ctx.adapter.n_heads * rep.seq_len * ctx.adapter.d_model
    with torch.no_grad():
        resid = ctx.forward(rep.tokens, {"resid"}).require("resid")
        whole = copying_scores(ctx, resid, rep)
        monkeypatch.setattr(copying_module, "_CHUNK_ELEMENTS", sequences_per_chunk * per_sequence)
        chunked = copying_scores(ctx, resid, rep)
    assert whole[0].shape == (8, ctx.adapter.n_layers, ctx.adapter.n_heads)
    assert np.ptp(whole[1]) > 0  # random weights: the rows differ
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("model_type", PLANTED_ARCHS)
def test_copying_head_in_every_architecture(model_type: str) -> None:
    """The planted induction head copies in GPT-2, Llama and OLMo 2 (whose W_O carries the
    post-attention norm's gain): top-1 always, the same z-score as in GPT-NeoX; the
    previous-token head's writes all tie; the eigenvalue score of the copy is +1."""
    planted = planted_induction(model_type)
    ctx = ProbeContext(planted.model, planted.tokenizer)
    (probe,) = make_probes(["copying"], copying={"seq_len": 30})
    scores = probe.run(ctx)
    head = planted.heads["induction"]
    assert scores["copying_top1"][head] == 1.0
    assert _others(scores["copying_top1"], head).max() == 0.0
    n_words = repeated_tokens(ctx, probe.config).seq_len  # 24 distinct filler words
    assert n_words == 24
    assert abs(scores["copying_logit_zscore"][head] - np.sqrt(n_words - 1)) < 1e-3
    assert scores["copying_logit_zscore"][planted.heads["prev"]] == 0.0
    assert abs(scores["copying_eigen"][head] - 1.0) < 1e-9


def test_sink_head_and_residual_peak(circuits: Planted) -> None:
    """The sink head attends to BOS from every query; its BOS value is ~0 (W_V skips BOS).

    BOS embeds 10x longer than other tokens, so the residual norm peaks at position 0.
    """
    ctx = ProbeContext(circuits.model, circuits.tokenizer)
    (probe,) = make_probes(["attention_sinks"], attention_sinks={"seq_len": 30})
    out = probe.run(ctx)
    head = circuits.heads["sink"]
    assert out["sink_score"][head] > 0.999
    assert _others(out["sink_score"], head).max() < 0.06
    assert out["sink_fraction"] == 1 / 8
    ratio = out["sink_value_norm_ratio"]
    assert ratio[head] < 0.05
    assert ratio[circuits.heads["prev"]] > 0.9  # copies every token, BOS included
    assert np.isnan(ratio[0, 3])  # zero head: no values at all
    # After block 0: |10 e_0 + e'_0| / |e_t + e'_prev| ~ sqrt(101) / sqrt(2) (the heads write
    # ~1, up to the layer norm's mean offsets).
    assert abs(out["resid_norm_peak"][0] - np.sqrt(101 / 2)) < 0.05
    assert out["resid_norm_peak"].shape == (2,)
    assert (out["resid_peak_at_bos"] == 1.0).all()


def test_value_norm_ratio_is_that_of_the_values_rebuilt_from_the_weights(
    circuits: Planted,
) -> None:
    """The ratio read from the pass's value norms equals the one from ``LN(r) W_V + b_V``."""
    ctx = ProbeContext(circuits.model, circuits.tokenizer)
    (probe,) = make_probes(["attention_sinks"], attention_sinks={"seq_len": 30})
    got = probe.run(ctx)["sink_value_norm_ratio"]
    resid = ctx.forward(repeated_tokens(ctx, probe.config).tokens, {"resid"}).require("resid")
    for layer in range(ctx.adapter.n_layers):
        with torch.no_grad():
            values = head_values(ctx, layer, attn_norm(ctx, layer, resid[layer]))  # H B T dh
        norms = values.norm(dim=-1).double()
        with np.errstate(invalid="ignore"):
            want = (norms[..., 0] / norms[..., 1:].mean(dim=-1)).mean(dim=1).numpy()
        np.testing.assert_allclose(got[layer], want, rtol=1e-5, equal_nan=True)
    # The planted heads have values (the sink's ~0 at BOS); all-zero heads have none.
    assert got[circuits.heads["sink"]] < 0.05 and got[circuits.heads["prev"]] > 0.9
    assert np.isfinite(got).sum() == 4 and np.isnan(got[0, 3])


def test_no_peak_without_big_bos() -> None:
    planted = circuits_model(bos_scale=1.0)
    ctx = ProbeContext(planted.model, planted.tokenizer)
    (probe,) = make_probes(["attention_sinks"], attention_sinks={"seq_len": 30})
    out = probe.run(ctx)
    assert abs(out["resid_norm_peak"][0] - 1.0) < 0.01  # every position |e_t + e'_prev|
    assert out["sink_score"][planted.heads["sink"]] > 0.999  # attention does not need norm
