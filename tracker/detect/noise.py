"""Noise floors and isolated outliers of one series.

A quantized metric (a fraction over n items) moves in steps of 1/n; its noise estimate must
never fall below that quantum, or flicker by one quantum looks like a change.
:func:`quantum_floor` returns the declared resolution or, for older stores without one, the
lattice spacing when the values clearly lie on a lattice. :func:`find_outliers` flags a point
that departs from its neighbours on both sides (or, at either end, from the neighbours it
has; the last point included, the first, step 0 before training, not): a quality warning,
never a change.
"""

from __future__ import annotations

import numpy as np

from tracker.detect.base import lag_noise


def estimate_resolution(y: np.ndarray) -> float | None:
    """Return the lattice spacing of a clearly quantized series, or None.

    Clearly quantized means: at most half as many distinct values as points, and every value
    an integer multiple (within 1e-6 of the spacing) of the smallest gap between distinct
    values, counted from the smallest value.
    """
    v = np.asarray(y, float)
    v = v[np.isfinite(v)]
    u = np.unique(v)
    if len(v) < 8 or len(u) < 2 or len(u) > len(v) / 2:
        return None
    q = float(np.min(np.diff(u)))
    if q <= 0:
        return None
    k = (u - u[0]) / q
    if np.max(np.abs(k - np.round(k))) > 1e-6 * max(1.0, float(np.max(k))):
        return None
    return q


def quantum_floor(y: np.ndarray, resolution: float | None) -> float:
    """Return the smallest noise sd allowed: the resolution (estimated if not given), else 0."""
    if resolution is not None and np.isfinite(resolution) and resolution > 0:
        return float(resolution)
    est = estimate_resolution(y)
    return 0.0 if est is None else est


def find_outliers(y: np.ndarray, resolution: float | None = None, z: float = 8.0,
                  ) -> np.ndarray:
    """Find isolated outliers (a single point far from its neighbours on each side).

    Args:
        y: Finite values in order.
        resolution: Quantum of the metric (the noise floor), or None.
        z: Distance from the neighbours, in robust noise sds, that makes an outlier.

    Returns:
        Sorted indices.
    """
    y = np.asarray(y, float)
    n = len(y)
    if n < 6:
        return np.zeros(0, dtype=int)
    sigma = max(lag_noise(y, 1), quantum_floor(y, resolution))
    limit = z * sigma
    out = []
    for i in range(n):
        left, right = y[max(i - 3, 0):i], y[i + 1:i + 4]
        dl = y[i] - np.median(left) if len(left) >= 2 else None
        dr = y[i] - np.median(right) if len(right) >= 2 else None
        sides = [d for d in (dl, dr) if d is not None]
        if len(sides) == 2 and np.sign(sides[0]) != np.sign(sides[1]):
            continue
        # The first checkpoint (step 0, before any training) is often far off a steep start;
        # the last one is judged against the three before it.
        if all(abs(d) > limit for d in sides) and (len(sides) == 2 or i == n - 1):
            # Its neighbours must agree with each other, or this is a step, not a spike.
            ref = np.concatenate([left, right])
            if np.ptp(ref) < abs(min(sides, key=abs)):
                out.append(i)
    return np.array(out, dtype=int)
