"""Elhage et al.'s eigenvalue copying score: the d_head x d_head shortcut against the V x V
definition, and known answers on hand-built weights."""

from __future__ import annotations

import numpy as np
import torch

from tests.support.builders import tiny_model, tiny_tokenizer
from tests.support.planted_models import Planted, circuits_model
from tracker.probes import ProbeContext, make_probes
from tracker.probes.copying_eigen import block_products, copying_eigen_scores, eigen_ratio


def test_eigen_ratio_on_known_matrices() -> None:
    eye = torch.eye(5, dtype=torch.float64)
    rotation = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)  # eigenvalues +-i
    mixed = torch.diag(torch.tensor([3.0, -1.0], dtype=torch.float64))
    ratios = [float(eigen_ratio(m)) for m in (2 * eye, -eye, rotation, mixed)]
    assert ratios == [1.0, -1.0, 0.0, 0.5]
    assert np.isnan(float(eigen_ratio(torch.zeros(3, 3))))


def _full_vxv_scores(ctx: ProbeContext) -> np.ndarray:
    """The definition: eigenvalues of the V x V matrix W_E W_V W_O W_U, in float64 numpy."""
    adapter = ctx.adapter
    w_e = adapter.embed_matrix().detach().double().numpy()
    w_u = adapter.unembed_matrix().detach().double().numpy()
    out = np.zeros((adapter.n_layers, adapter.n_heads))
    for layer in range(adapter.n_layers):
        w_v = adapter.qkv_matrices(layer)[2].detach().double().numpy()
        w_o = adapter.out_matrix(layer)[0].detach().double().numpy()
        for head in range(adapter.n_heads):
            eig = np.linalg.eigvals(w_e @ w_v[head] @ w_o[head] @ w_u)
            out[layer, head] = eig.real.sum() / np.abs(eig).sum()
    return out


def test_cyclic_product_matches_the_full_vocabulary_matrix() -> None:
    ctx = ProbeContext(tiny_model(seed=3, scale=0.5), tiny_tokenizer())
    score, se = copying_eigen_scores(ctx, seed=0, blocks=8)
    full = _full_vxv_scores(ctx)
    assert np.abs(full).max() < 0.99  # random weights: not a trivial all-positive case
    np.testing.assert_allclose(score, full, atol=1e-5)
    assert (se > 0).all() and (se < 1).all()


def test_scores_built_in_place_equal_the_jackknife_written_out() -> None:
    """The batch of totals and left-out totals is built in place; same numbers as spelled out."""
    ctx = ProbeContext(tiny_model(seed=5, scale=0.5), tiny_tokenizer())
    score, se = copying_eigen_scores(ctx, seed=1, blocks=6)
    vocab = ctx.adapter.embed_matrix().shape[0]
    order = torch.from_numpy(np.random.default_rng(1).permutation(vocab))
    prods = block_products(ctx, list(torch.tensor_split(order, 6)))  # (L, H, K, d, d)
    assert prods.dtype == torch.float64
    total = prods.sum(dim=2)
    np.testing.assert_array_equal(score, eigen_ratio(total).numpy())
    left_out = eigen_ratio(total.unsqueeze(2) - prods).numpy()  # (L, H, K)
    spread = ((left_out - left_out.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    np.testing.assert_allclose(se, np.sqrt(spread * 5 / 6), rtol=1e-12, atol=1e-15)
    assert (se > 0).all()


def test_jackknife_se_agrees_with_a_bootstrap_over_the_same_blocks() -> None:
    ctx = ProbeContext(tiny_model(seed=3, scale=0.5), tiny_tokenizer())
    _, se = copying_eigen_scores(ctx, seed=0, blocks=16)
    vocab = ctx.adapter.embed_matrix().shape[0]
    rng = np.random.default_rng(0)
    parts = list(torch.tensor_split(torch.from_numpy(rng.permutation(vocab)), 16))
    counts = torch.from_numpy(rng.multinomial(16, np.full(16, 1 / 16), size=2000)).double()
    boot = np.stack([
        eigen_ratio(torch.einsum("rk,hkij->rhij", counts, prods)).std(dim=0).numpy()
        for prods in block_products(ctx, parts)
    ])
    ratio = se / boot
    # Same spread, the jackknife on the conservative side (Efron-Stein): 1.27-1.58 here.
    assert (ratio > 1.0).all() and (ratio < 2.0).all(), ratio


def test_planted_copying_head_scores_plus_one_and_negated_minus_one() -> None:
    planted: Planted = circuits_model()
    ctx = ProbeContext(planted.model, planted.tokenizer)
    (probe,) = make_probes(["copying"], copying={"seq_len": 30, "n_bootstrap": 20})
    layer, head = planted.heads["induction"]
    out = probe.run(ctx)
    assert abs(out["copying_eigen"][layer, head] - 1.0) < 1e-9
    assert out["copying_eigen_se"][layer, head] < 1e-9  # every resample copies too
    dense = planted.model.gpt_neox.layers[layer].attention.dense.weight
    d_head = dense.shape[1] // ctx.adapter.n_heads
    with torch.no_grad():
        dense[:, head * d_head : (head + 1) * d_head] *= -1
    negated = probe.run(ProbeContext(planted.model, planted.tokenizer))
    assert abs(negated["copying_eigen"][layer, head] + 1.0) < 1e-9
    assert negated["copying_top1"][layer, head] == 0.0
