"""Value-matrix spectra per layer: the attention layer's summed OV map and its eigenvalues.

In the interacting-particle model the value matrix V sets how fast tokens collapse; in a
transformer layer the linear map from the attended token to the residual update is
``OV = sum_h W_V[h] W_O[h]`` (d_model x d_model, row-vector convention: ``x -> x OV``), with
the weights taken raw (no layer norm, no biases), in float64. Per layer:

* spectral radius ``max |lambda|``;
* fractions of eigenvalues with positive and with negative real part, and of complex ones
  (``|Im lambda|`` above ``1e-9`` times the radius; real parts within that of 0 count as
  neither sign).

Transposing the map (the column-vector convention) leaves the eigenvalues unchanged.
"""

from __future__ import annotations

import numpy as np
import torch

from tracker.models import ArchitectureAdapter

_REL_TOL = 1e-9


def spectrum_stats(ov: np.ndarray) -> tuple[float, float, float, float]:
    """Return (spectral radius, fraction Re > 0, fraction Re < 0, fraction complex) of ``ov``."""
    eig = np.linalg.eigvals(np.asarray(ov, dtype=np.float64))
    radius = float(np.abs(eig).max(initial=0.0))
    tol = _REL_TOL * max(radius, 1e-300)
    return (radius, float((eig.real > tol).mean()), float((eig.real < -tol).mean()),
            float((np.abs(eig.imag) > tol).mean()))


@torch.no_grad()
def ov_matrix(adapter: ArchitectureAdapter, layer: int) -> np.ndarray:
    """``sum_h W_V[h] W_O[h]`` of one layer, (d_model, d_model) in float64."""
    w_v = adapter.qkv_matrices(layer)[2].double()  # (H, D, d_head)
    w_o = adapter.out_matrix(layer)[0].double()  # (H, d_head, D)
    return np.asarray(torch.einsum("hde,hef->df", w_v, w_o).cpu().numpy())


def layer_spectra(adapter: ArchitectureAdapter) -> np.ndarray:
    """(n_layers, 4): :func:`spectrum_stats` of every layer's OV map."""
    return np.array([spectrum_stats(ov_matrix(adapter, layer))
                     for layer in range(adapter.n_layers)])
