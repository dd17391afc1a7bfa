"""Induction-family scores: exact entries on synthetic patterns, planted heads, TL agreement."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tests.support.builders import TINY_MODELS, tiny_tokenizer
from tests.support.planted_archs import PLANTED_ARCHS, planted_induction
from tests.support.planted_models import Planted
from tracker.probes import ProbeContext, make_probes, probe_class
from tracker.probes.induction import (
    earlier_copy_scores,
    induction_stripe_scores,
    previous_token_scores,
)
from tracker.probes.inputs import repeated_tokens

L, R = 5, 4
T = 1 + R * L


def _pattern(entries: list[tuple[int, int]]) -> torch.Tensor:
    """A (1, 1, 1, T, T) 'pattern' with 1 at the given (query, key) entries."""
    pattern = torch.zeros(1, 1, 1, T, T)
    for q, k in entries:
        pattern[..., q, k] = 1.0
    return pattern


def test_stripe_counts_only_second_copy_queries() -> None:
    # The classic stripe diagonal k = q - L + 1 starts at q = L - 1; only q in the second
    # copy (L + 1 .. 2L) count, each with weight 1/L.
    on_diagonal = [(q, q - L + 1) for q in range(L - 1, T)]
    assert induction_stripe_scores(_pattern(on_diagonal), L)[0, 0] == pytest.approx(1.0)
    second_copy = [(q, q - L + 1) for q in range(L + 1, 2 * L + 1)]
    assert induction_stripe_scores(_pattern(second_copy[:1]), L)[0, 0] == pytest.approx(1 / L)
    not_events = [(q, q - L + 1) for q in range(L - 1, L + 1)]
    assert induction_stripe_scores(_pattern(not_events), L)[0, 0] == 0.0


def test_prefix_matching_sums_earlier_copies() -> None:
    # A query in copy 3 attending to the token after x[i] in copies 0, 1 and 2 (1/3 each)
    # scores 1 for that query; queries are averaged over copies 1..3.
    i = 2
    q = 1 + 3 * L + i
    entries = [(q, 1 + c * L + i + 1) for c in range(3)]
    pattern = _pattern(entries) / 3
    assert earlier_copy_scores(pattern, L, R, 1)[0, 0] == pytest.approx(1 / (3 * L))
    # Duplicate-token entries are the earlier occurrences themselves.
    dup = _pattern([(q, 1 + c * L + i) for c in range(3)])
    assert earlier_copy_scores(dup, L, R, 0)[0, 0] == pytest.approx(3 / (3 * L))
    assert earlier_copy_scores(dup, L, R, 1)[0, 0] == 0.0


def test_previous_token_entries() -> None:
    pattern = _pattern([(q, q - 1) for q in range(1, T)])
    assert previous_token_scores(pattern)[0, 0] == pytest.approx(1.0)


def test_planted_heads(circuits: Planted) -> None:
    """Each planted head scores ~1 on its own metric; every other head stays low."""
    ctx = ProbeContext(circuits.model, circuits.tokenizer)
    (probe,) = make_probes(["induction"], induction={"seq_len": 30})
    scores = probe.run(ctx)
    expected = {
        "prev_token_score": circuits.heads["prev"],
        "duplicate_score": circuits.heads["duplicate"],
        "induction_score": circuits.heads["induction"],
        "prefix_matching_score": circuits.heads["induction"],
    }
    for metric, head in expected.items():
        values = scores[metric]
        assert values.shape == (2, 4)
        assert values[head] > 0.999, metric
        others = np.delete(values.ravel(), np.ravel_multi_index(head, values.shape))
        assert others.max() < 0.05, metric


@pytest.fixture(scope="module", params=PLANTED_ARCHS)
def planted_arch(request: pytest.FixtureRequest) -> Planted:
    """The planted induction model of each architecture beyond GPT-NeoX."""
    return planted_induction(request.param)


def test_planted_heads_in_every_architecture(planted_arch: Planted) -> None:
    """GPT-2 (learned positions), Llama and OLMo 2 (rotary, grouped-query attention, QK-norm
    and post-norms): the planted previous-token and induction heads score ~1, the rest low."""
    ctx = ProbeContext(planted_arch.model, planted_arch.tokenizer)
    (probe,) = make_probes(["induction"], induction={"seq_len": 30})
    scores = probe.run(ctx)
    expected = {
        "prev_token_score": planted_arch.heads["prev"],
        "induction_score": planted_arch.heads["induction"],
        "prefix_matching_score": planted_arch.heads["induction"],
    }
    for metric, head in expected.items():
        values = scores[metric]
        assert values.shape == (2, 2)
        assert values[head] > 0.999, metric
        others = np.delete(values.ravel(), np.ravel_multi_index(head, values.shape))
        assert others.max() < 0.05, metric
    assert scores["duplicate_score"].max() < 0.05


def test_layout_and_version(circuits: Planted) -> None:
    ctx = ProbeContext(circuits.model, circuits.tokenizer)
    probe = probe_class("induction")()
    assert probe.version == 3 and probe.description
    rep = repeated_tokens(ctx, probe.config)
    x = rep.tokens[:, 1 : 1 + rep.seq_len]
    assert rep.tokens.shape == (16, 1 + 4 * rep.seq_len)
    assert all(len(set(row.tolist())) == rep.seq_len for row in x)  # distinct tokens
    assert torch.equal(rep.tokens[:, 1:], x.repeat(1, 4))
    assert (rep.tokens[:, 0] == 0).all()


#: A hub name of each architecture TransformerLens bridges (its config is not fetched: the
#: bridge reads the given model's own). TL 4.3 has no OLMo 2 bridge.
TL_NAMES = {"gpt_neox": "EleutherAI/pythia-70m", "gpt2": "gpt2",
            "llama": "meta-llama/Llama-3.2-1B"}


def _bridge(model: torch.nn.Module, tokenizer):  # type: ignore[no-untyped-def]
    """Wrap a copy of the HF model in TransformerLens' TransformerBridge, offline.

    ``boot_transformers`` reuses the given model's config (no hub access). It rebuilds the
    tokenizer from its ``name_or_path`` unless ``add_bos_token`` is set, which an in-memory
    tokenizer lacks, so both are set on a copy (the ids we pass are used as they are).
    """
    bridge_mod = pytest.importorskip("transformer_lens.model_bridge")
    tok = copy.deepcopy(tokenizer)
    tok.init_kwargs["name_or_path"] = "in-memory"
    tok.init_kwargs["add_bos_token"] = True
    return bridge_mod.TransformerBridge.boot_transformers(
        TL_NAMES[model.config.model_type], hf_model=copy.deepcopy(model), tokenizer=tok
    )


def _tl_equivalents(tl: dict[str, np.ndarray], t_len: int, seq_len: int) -> dict[str, np.ndarray]:
    """Our scores from TL 'mul' scores: TL = sum(A * P) / sum(A) with sum(A) = T per sequence.

    P marks (R-1)*L entries for duplicate/induction (all earlier copies), T-1 for previous
    token, and L on the two-copy prefix for the stripe (module docstring of induction).
    """
    n_q = (R - 1) * seq_len
    return {
        "prev_token_score": tl["previous_token_head"] * t_len / (t_len - 1),
        "duplicate_score": tl["duplicate_token_head"] * t_len / n_q,
        "prefix_matching_score": tl["induction_head"] * t_len / n_q,
        "induction_score": tl["induction_stripe"] * (1 + 2 * seq_len) / seq_len,
    }


@pytest.mark.parametrize("model_type", sorted(TL_NAMES))
def test_matches_transformer_lens_detect_head(model_type: str) -> None:
    """TL's ``detect_head`` (strings through the bridge's tokenizer) on a random tiny model
    of GPT-NeoX, GPT-2 and Llama (grouped-query) shape."""
    head_detector = pytest.importorskip("transformer_lens.head_detector")
    model, tok = TINY_MODELS[model_type](), tiny_tokenizer()
    ctx = ProbeContext(model, tok)
    (probe,) = make_probes(["induction"], induction={"seq_len": 20, "n_seqs": 4})
    ours = probe.run(ctx)
    rep = repeated_tokens(ctx, probe.config)
    bridge = _bridge(model, tok)
    # The bridge prepends BOS itself for some architectures (GPT-2, Llama): leave it out then.
    start = 1 if bridge.cfg.default_prepend_bos else 0
    full = [tok.decode(row[start:]) for row in rep.tokens]
    two = [tok.decode(row[start : 1 + 2 * rep.seq_len]) for row in rep.tokens]
    for text, row in zip(full, rep.tokens, strict=True):
        assert torch.equal(bridge.to_tokens(text)[0].cpu(), row)
    tl = {
        name: head_detector.detect_head(bridge, full, name).numpy()
        for name in ("previous_token_head", "duplicate_token_head", "induction_head")
    }
    tl["induction_stripe"] = head_detector.detect_head(bridge, two, "induction_head").numpy()
    for metric, value in _tl_equivalents(tl, rep.tokens.shape[1], rep.seq_len).items():
        assert np.abs(value - ours[metric]).max() < 1e-3, metric
        assert ours[metric].std() > 0  # non-degenerate patterns


@pytest.mark.parametrize("model_type", sorted(TL_NAMES))
def test_matches_transformer_lens_scoring_on_planted(model_type: str, circuits: Planted) -> None:
    """TL's detection patterns and 'mul' similarity on the bridge's own cached patterns."""
    hd = pytest.importorskip("transformer_lens.head_detector")
    if model_type != "gpt_neox":
        circuits = planted_induction(model_type)
    ctx = ProbeContext(circuits.model, circuits.tokenizer)
    (probe,) = make_probes(["induction"], induction={"seq_len": 30, "n_seqs": 6})
    ours = probe.run(ctx)
    rep = repeated_tokens(ctx, probe.config)
    bridge = _bridge(circuits.model, circuits.tokenizer)
    _, cache = bridge.run_with_cache(rep.tokens)
    n_layers, n_heads = ours["prev_token_score"].shape
    detectors = {
        "previous_token_head": hd.get_previous_token_head_detection_pattern,
        "duplicate_token_head": hd.get_duplicate_token_head_detection_pattern,
        "induction_head": hd.get_induction_head_detection_pattern,
    }
    cut = 1 + 2 * rep.seq_len
    tl = {name: np.zeros((n_layers, n_heads)) for name in [*detectors, "induction_stripe"]}
    for b, row in enumerate(rep.tokens):
        wanted = {name: (make(row[None]), None) for name, make in detectors.items()}
        wanted["induction_stripe"] = (hd.get_induction_head_detection_pattern(row[None, :cut]), cut)
        for layer in range(n_layers):
            pattern = cache["pattern", layer][b]  # (H, T, T)
            for head in range(n_heads):
                for name, (detection, size) in wanted.items():
                    tl[name][layer, head] += hd.compute_head_attention_similarity_score(
                        pattern[head, :size, :size], detection, exclude_bos=False,
                        exclude_current_token=False, error_measure="mul") / len(rep.tokens)
    for metric, value in _tl_equivalents(tl, rep.tokens.shape[1], rep.seq_len).items():
        assert np.abs(value - ours[metric]).max() < 1e-3, metric
