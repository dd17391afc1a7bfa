"""Composition scores: the QR shortcut against the D x D definition, the random baseline, and a
planted previous-token -> induction pair against unrelated (Gaussian) pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.support.builders import tiny_model, tiny_tokenizer
from tests.support.planted_models import circuits_model
from tracker.probes import ProbeContext, make_probes
from tracker.probes.composition import head_pairs, pair_label, random_baseline


def _full_score(ov: np.ndarray, reader: np.ndarray) -> float:
    return float(np.linalg.norm(ov @ reader) / (np.linalg.norm(ov) * np.linalg.norm(reader)))


def test_shortcut_matches_the_d_by_d_definition() -> None:
    """Every pair of a random tiny model, each mode, against ||W_OV M|| / (||W_OV|| ||M||)."""
    ctx = ProbeContext(tiny_model(), tiny_tokenizer())
    (probe,) = make_probes(["composition"])
    out = probe.run(ctx)
    adapter = ctx.adapter
    qkv = [[m.detach().double().numpy() for m in adapter.qkv_matrices(l_)]
           for l_ in range(adapter.n_layers)]
    w_o = [adapter.out_matrix(l_)[0].detach().double().numpy() for l_ in range(adapter.n_layers)]
    base = float(out["composition_baseline"])
    pairs = head_pairs(adapter.n_layers, adapter.n_heads)
    assert len(pairs) == len(out["k_comp"]) > 0
    for i, (la, ha, lb, hb) in enumerate(pairs):
        ov = qkv[la][2][ha] @ w_o[la][ha]
        w_q, w_k, w_v = qkv[lb][0][hb], qkv[lb][1][hb], qkv[lb][2][hb]
        expected = {"q": _full_score(ov, w_q @ w_k.T), "k": _full_score(ov, w_k @ w_q.T),
                    "v": _full_score(ov, w_v @ w_o[lb][hb])}
        for mode, value in expected.items():
            assert out[f"{mode}_comp"][i] + base == pytest.approx(value, rel=1e-9), (mode, i)
    # Per-head maxima: NaN in layer 0, else the largest score into the head.
    k_max = out["k_comp_max"]
    assert np.isnan(k_max[0]).all()
    reader = [i for i, p in enumerate(pairs) if (p[2], p[3]) == (1, 0)]
    assert k_max[1, 0] == pytest.approx(out["k_comp"][reader].max())


def test_random_baseline_is_about_one_over_sqrt_d_model() -> None:
    """An isotropic writer gives E||AB||^2 = ||A||^2 ||B||^2 / D; the mean is seeded."""
    mean, sd = random_baseline(256, 32, 32, 0)
    assert mean == pytest.approx(1 / 16, rel=0.02)
    assert 0 < sd < 0.01
    assert random_baseline(256, 32, 32, 0) == (mean, sd)
    assert random_baseline(256, 32, 32, 1)[0] != mean


@torch.no_grad()
def _noisy_circuits_model():  # type: ignore[no-untyped-def]
    """The planted model with small Gaussian noise on every attention weight: the zero heads
    become Gaussian (random) heads, the planted ones keep their structure."""
    planted = circuits_model()
    gen = torch.Generator().manual_seed(0)
    for layer in planted.model.gpt_neox.layers:
        for lin in (layer.attention.query_key_value, layer.attention.dense):
            lin.weight += 1e-3 * torch.randn(lin.weight.shape, generator=gen)
    return planted


def test_planted_pair_has_the_exact_score_and_zero_heads_have_none() -> None:
    """Noiseless planted model: the previous-token OV maps e_t -> e_{V+t} / sqrt(D) for all V
    tokens and the induction key reads e_{V+t} for t >= 1, so ||OV QK^T|| / (||OV|| ||QK||)
    is 1/sqrt(V) (Frobenius-normalised products of aligned rank-r maps score 1/sqrt(r))."""
    planted = circuits_model()
    ctx = ProbeContext(planted.model, planted.tokenizer)
    (probe,) = make_probes(["composition"])
    out = probe.run(ctx)
    names = [pair_label(p) for p in head_pairs(2, 4)]
    link = names.index("L0H0>L1H0")
    base = float(out["composition_baseline"])
    n_vocab = len(planted.tokenizer)
    assert out["k_comp"][link] + base == pytest.approx(1 / np.sqrt(n_vocab), rel=1e-6)
    # Disjoint blocks: nothing the induction query or value reads.
    assert out["q_comp"][link] + base == pytest.approx(0.0, abs=1e-12)
    # Heads with zero Q/K or OV weights (duplicate head OV, zero heads) have no score.
    assert np.isnan(out["k_comp"][names.index("L0H3>L1H0")])
    assert np.isnan(out["k_comp"][names.index("L0H0>L1H3")])


def test_planted_induction_pair_composes_and_unrelated_pairs_sit_at_the_baseline() -> None:
    planted = _noisy_circuits_model()
    ctx = ProbeContext(planted.model, planted.tokenizer)
    (probe,) = make_probes(["composition"])
    out = probe.run(ctx)
    names = [pair_label(p) for p in head_pairs(2, 4)]
    assert list(probe.static(ctx)["pair_names"]) == names
    prev, ind = planted.heads["prev"], planted.heads["induction"]
    link = names.index(f"L{prev[0]}H{prev[1]}>L{ind[0]}H{ind[1]}")
    base, sd = float(out["composition_baseline"]), float(out["composition_baseline_sd"])
    assert base == pytest.approx(1 / np.sqrt(512), rel=0.02)
    # The previous-token head writes the block the induction key reads: far above random.
    assert out["k_comp"][link] > 100 * sd
    assert out["k_comp"][link] > 10 * max(out["q_comp"][link], out["v_comp"][link])
    assert out["k_comp_max"][ind] == out["k_comp"][link]
    # Pairs with a Gaussian (formerly zero) head on either side are random pairs.
    random = [i for i, n in enumerate(names) if n.startswith("L0H3>") or n.endswith(("L1H2",
                                                                                      "L1H3"))]
    assert len(random) == 4 + 4 + 4 - 2
    for mode in ("q", "k", "v"):
        values = out[f"{mode}_comp"][random]
        assert np.abs(values).max() < 6 * sd, (mode, values)
        assert abs(values.mean()) < 3 * sd, mode
