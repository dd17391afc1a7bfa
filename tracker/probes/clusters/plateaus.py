"""Plateaus over layers and the two-timescale verdict.

A *plateau* is a maximal run of at least ``min_layers`` consecutive layer boundaries over which
the mass near 1 stays flat: ``(max - min) / |mean| < tol`` on the run. Runs are grown
greedily from the left, as in the reference study: from the first boundary whose window of
``min_layers`` is flat, the run is extended while it stays flat, and the scan resumes after
it. A run whose mean is exactly 0 has no relative spread and is no plateau (no pair is near
1 anywhere on it: nothing is clustered to stay put).

The *collapse onset* is the first boundary (the embeddings are boundary 0) at which the
repeated-token control's mass near 1 exceeds a level (0.9). The *two-timescale ratio* is the
mean plateau width divided by that onset: the metastable window over the fast collapse. The
verdict is ``confirmed`` above 2, ``weak`` from 1 to 2, ``none`` below 1, and undefined when
the control never collapses or is collapsed already at the embeddings (onset 0: in a model
without absolute position embeddings, such as GPT-NeoX with rotary positions, the control's
tokens are identical vectors there, so there is no fast collapse to time).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Verdict(IntEnum):
    """Two-timescale verdict, stored as its number (undefined is stored as NaN)."""

    NONE = 0
    WEAK = 1
    CONFIRMED = 2


def _flat(values: np.ndarray, tol: float) -> bool:
    mean = abs(float(values.mean()))
    return mean > 0 and (float(values.max()) - float(values.min())) / mean < tol


def find_plateaus(values: np.ndarray, min_layers: int = 3, tol: float = 0.1) -> list[range]:
    """Return the plateaus of a per-boundary curve as ranges of boundary indices."""
    values = np.asarray(values, dtype=np.float64)
    out: list[range] = []
    start, n = 0, len(values)
    while start + min_layers <= n:
        stop = start + min_layers
        if not _flat(values[start:stop], tol):
            start += 1
            continue
        while stop < n and _flat(values[start : stop + 1], tol):
            stop += 1
        out.append(range(start, stop))
        start = stop
    return out


def plateau_mask(plateaus: list[range], n: int) -> np.ndarray:
    """(n,) 1.0 at boundaries inside a plateau, else 0.0."""
    mask = np.zeros(n)
    for run in plateaus:
        mask[run.start : run.stop] = 1.0
    return mask


def collapse_onset(control_mass: np.ndarray, level: float = 0.9) -> float:
    """First boundary where the control's mass near 1 exceeds ``level``; NaN if none."""
    above = np.flatnonzero(np.asarray(control_mass) > level)
    return float(above[0]) if above.size else float("nan")


def two_timescale_ratio(mean_width: float, onset: float) -> float:
    """Mean plateau width over the collapse onset; NaN when either is undefined or onset 0."""
    if not np.isfinite(onset) or onset <= 0 or not np.isfinite(mean_width):
        return float("nan")
    return mean_width / onset


def verdict(ratio: float) -> float:
    """Return the verdict's number (:class:`Verdict`) for a ratio; NaN when undefined."""
    if not np.isfinite(ratio):
        return float("nan")
    if ratio > 2.0:
        return float(Verdict.CONFIRMED)
    return float(Verdict.WEAK if ratio >= 1.0 else Verdict.NONE)
