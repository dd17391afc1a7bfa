"""Known answers of the geometry: identical vectors, an isotropic cloud, identical layers."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.probes.clusters import geometry

BETAS = (0.1, 1.0, 2.0, 5.0)


def test_identical_vectors_have_all_mass_near_one_and_the_collapsed_energy() -> None:
    x = np.tile(np.linspace(-1.0, 2.0, 16), (30, 1))
    g = geometry.gram(x)
    mean, std, mass, hist = geometry.inner_product_stats(g)
    assert mass == 1.0 and mean == pytest.approx(1.0) and std == pytest.approx(0.0, abs=1e-12)
    assert hist[-1] == pytest.approx(1.0) and hist.sum() == pytest.approx(1.0)
    expected = [np.exp(b) / (2 * b) for b in BETAS]
    np.testing.assert_allclose(geometry.energies(g, BETAS), expected, rtol=1e-12)
    assert geometry.effective_rank(x) == pytest.approx(1.0)


def test_isotropic_cloud_energy_approaches_one_over_two_beta() -> None:
    """Off-diagonal inner products of n random directions in d dims are ~N(0, 1/d), so
    ``2 beta E = ((n - 1) exp(beta^2 / 2d) + e^beta) / n`` up to sampling; it tends to 1."""
    n, d = 1000, 2000
    x = np.random.default_rng(0).standard_normal((n, d))
    energy = geometry.energies(geometry.gram(x), BETAS)
    betas = np.array(BETAS)
    predicted = ((n - 1) * np.exp(betas**2 / (2 * d)) + np.exp(betas)) / n
    np.testing.assert_allclose(2 * betas * energy, predicted, rtol=2e-3)
    np.testing.assert_allclose(energy[:3], 1 / (2 * betas[:3]), rtol=0.01)
    mean, _, mass, _ = geometry.inner_product_stats(geometry.gram(x))
    assert abs(mean) < 1e-3 and mass == 0.0


def test_two_identical_layers_have_cka_one_and_stable_neighbours() -> None:
    g = geometry.gram(np.random.default_rng(1).standard_normal((40, 16)))
    assert geometry.linear_cka(g, g) == pytest.approx(1.0)
    assert geometry.neighbour_stability(g, g) == 1.0
    other = geometry.gram(np.random.default_rng(2).standard_normal((40, 16)))
    assert geometry.linear_cka(g, other) < 0.6
    assert geometry.neighbour_stability(g, other) < 0.3


def test_cka_matches_the_feature_space_formula() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((25, 8)), rng.standard_normal((25, 12))
    xc = geometry.normalise(x) - geometry.normalise(x).mean(axis=0)
    yc = geometry.normalise(y) - geometry.normalise(y).mean(axis=0)
    direct = (np.linalg.norm(yc.T @ xc) ** 2
              / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)))
    assert geometry.linear_cka(geometry.gram(x), geometry.gram(y)) == pytest.approx(direct)


def test_energy_drop_pairs_name_the_pair_that_separated() -> None:
    x = np.random.default_rng(4).standard_normal((6, 8))
    after = x.copy()
    after[4] = -x[2]  # tokens 2 and 4 end up opposite: their pair's term falls most
    pairs = geometry.energy_drop_pairs(geometry.gram(x), geometry.gram(after), 1.0, top=20)
    assert tuple(pairs[0, :2]) == (2.0, 4.0) and pairs[0, 2] < 0
    assert np.isnan(pairs[15:]).all() and not np.isnan(pairs[:15]).any()  # 15 pairs of 6
