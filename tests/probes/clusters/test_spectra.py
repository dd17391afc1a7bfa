"""A planted value matrix gives its spectral radius and eigenvalue fractions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.support.builders import tiny_model
from tracker.models import get_adapter
from tracker.probes.clusters.spectra import layer_spectra, ov_matrix, spectrum_stats


def _planted_ov(d: int) -> np.ndarray:
    """diag(3, -0.5 x 10, 0.25 x 19) and a block [[1, -2], [2, 1]] (eigenvalues 1 +- 2i)."""
    m = np.diag([3.0] + [-0.5] * 10 + [0.25] * (d - 13) + [0.0, 0.0])
    m[d - 2 :, d - 2 :] = [[1.0, -2.0], [2.0, 1.0]]
    return m


def test_spectrum_stats_of_a_planted_matrix() -> None:
    radius, pos, neg, cplx = spectrum_stats(_planted_ov(32))
    assert radius == pytest.approx(3.0)
    assert (pos, neg, cplx) == pytest.approx((22 / 32, 10 / 32, 2 / 32))
    # The column-vector convention (the transpose) has the same spectrum.
    assert spectrum_stats(_planted_ov(32).T) == pytest.approx((radius, pos, neg, cplx))


def test_ov_matrix_sums_value_and_output_weights_over_heads() -> None:
    model = tiny_model()
    adapter = get_adapter(model)
    d, dh = adapter.d_model, adapter.d_head
    target = _planted_ov(d)
    with torch.no_grad():
        w_v = adapter.qkv_matrices(1)[2]  # views of the model's parameters
        w_o = adapter.out_matrix(1)[0]
        for h in range(adapter.n_heads):  # head h carries rows h*dh..(h+1)*dh of the map
            w_v[h].copy_(torch.eye(d)[:, h * dh : (h + 1) * dh])
            w_o[h].copy_(torch.from_numpy(target[h * dh : (h + 1) * dh]).float())
    np.testing.assert_allclose(ov_matrix(adapter, 1), target, atol=1e-6)
    stats = layer_spectra(adapter)
    assert stats.shape == (2, 4)
    np.testing.assert_allclose(stats[1], [3.0, 22 / 32, 10 / 32, 2 / 32], rtol=1e-5)
    assert stats[0, 0] != pytest.approx(3.0)  # layer 0 kept its random weights
