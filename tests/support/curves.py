"""Synthetic curves on the Pythia checkpoint grid, shared by the detector tests."""

from __future__ import annotations

import numpy as np

from tracker.detect.base import make_x_axis

PYTHIA_STEPS = [0] + [2**k for k in range(10)] + list(range(1000, 143001, 1000))
PYTHIA_X = make_x_axis(PYTHIA_STEPS)
LN9 = float(np.log(9.0))


def nearest_index(x: np.ndarray, value: float) -> int:
    """Index of the checkpoint whose x is closest to ``value``."""
    return int(np.argmin(np.abs(x - value)))


def emergence_curve(rng: np.random.Generator, x: np.ndarray) -> tuple[np.ndarray, float, float]:
    """A noisy logistic rise on the log-step axis, as real probe scores show.

    Low level 0.05, high level 0.6-0.9, noise sd 0.01-0.03, 10-90% width 0.2-1.0 decades,
    onset (the 10% point) uniform on the log-step axis from step 2 to where the whole rise
    still ends before the last checkpoint.

    Returns:
        (y, onset x, midpoint x).
    """
    width = rng.uniform(0.2, 1.0)
    scale = width / (2.0 * LN9)
    onset = rng.uniform(x[2], x[-1] - width - 0.05)
    mid = onset + width / 2.0
    hi = rng.uniform(0.6, 0.9)
    sd = rng.uniform(0.01, 0.03)
    y = 0.05 + (hi - 0.05) / (1.0 + np.exp(-(x - mid) / scale)) + rng.normal(0, sd, len(x))
    return y, float(onset), float(mid)
