"""Developmental stages: boundaries at critical points of the LLC curve over log-step.

Following Hoogland et al. (2024), a stage boundary is where the LLC stops rising or falling:
the slope of the curve, smoothed over ``log(step)``, vanishes. Here the curve is smoothed by a
Gaussian kernel of ``bandwidth`` decades, evaluated on a uniform grid of log-steps, and its
slope is called *flat* where its magnitude is below ``flat_tol`` times the largest magnitude.
A boundary is

* the crossing, where the slope changes sign without a flat stretch between (a peak or a
  trough of the LLC), or
* the middle of a flat stretch (a plateau; its ends are the event's onset and end steps),
* a slowdown: a local minimum of the slope's magnitude, without a sign change or a flat
  stretch, below ``dip`` times the lower of the two neighbouring local maxima (the curve keeps
  rising or falling but nearly stops between two bursts: a critical point that the smoothing
  has not quite brought to zero slope; ``dip = 0`` turns the rule off),

leaving out stretches that touch either end of the curve (nothing says they end there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracker.events.model import Event
from tracker.store import SeriesStore


@dataclass(frozen=True)
class StageBoundary:
    """One boundary: its step, the flat stretch around it, and the LLC change before it.

    Attributes:
        step: Step of the boundary.
        start_step: Where the slope became flat (``step`` for a sign change).
        end_step: Where it stopped being flat.
        shape: ``peak``, ``trough``, ``plateau`` or ``slowdown`` (see the module docstring).
        change: Smoothed LLC at the boundary minus at the previous one (or the start).
        prominence: ``|change|`` over the smoothed curve's range, in [0, 1].
    """

    step: float
    start_step: float
    end_step: float
    shape: str
    change: float
    prominence: float


def smooth_log_curve(
    steps: np.ndarray, values: np.ndarray, bandwidth: float = 0.15, n_grid: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Smooth ``values`` over ``log10(steps)`` with a Gaussian kernel (Nadaraya-Watson).

    A bandwidth narrower than the gaps between checkpoints (the organisms' schedule: powers of
    two, then every 56 steps, so 0.3 decades apart at first and 0.01 at the end) turns the
    curve into steps whose flat treads read as plateaus; keep it at least the widest gap that
    matters.

    Args:
        steps: Training steps; steps <= 0 and non-finite values are left out.
        values: The curve (e.g. the LLC per checkpoint).
        bandwidth: Kernel width in decades of steps.
        n_grid: Points of the uniform log-step grid the smooth curve is evaluated on.

    Returns:
        (log10 grid, smoothed values); empty when fewer than 3 usable points remain.
    """
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    keep = (steps > 0) & np.isfinite(values) & np.isfinite(steps)
    x, y = np.log10(steps[keep]), values[keep]
    if x.size < 3:
        return np.array([]), np.array([])
    grid = np.linspace(x.min(), x.max(), n_grid)
    weights = np.exp(-0.5 * ((grid[:, None] - x[None, :]) / bandwidth) ** 2)
    return grid, (weights @ y) / weights.sum(axis=1)


def _slowdowns(slope: np.ndarray, state: np.ndarray, dip: float) -> list[int]:
    """Grid indices of slowdowns: local minima of |slope| under ``dip`` x both nearest peaks."""
    mag = np.abs(slope)
    peaks = [i for i in range(1, mag.size - 1) if mag[i - 1] < mag[i] >= mag[i + 1]]
    out = []
    for i in range(1, mag.size - 1):
        if not (mag[i - 1] > mag[i] <= mag[i + 1]) or state[i] == 0:
            continue
        left = [k for k in peaks if k < i]
        right = [k for k in peaks if k > i]
        if not left or not right:
            continue
        lo, hi = left[-1], right[0]
        # one monotone run from peak to peak: a sign change or flat stretch is found already
        if np.all(state[lo : hi + 1] == state[i]) and mag[i] < dip * min(mag[lo], mag[hi]):
            out.append(i)
    return out


def stage_boundaries(
    steps: np.ndarray, values: np.ndarray, bandwidth: float = 0.15, flat_tol: float = 0.05,
    dip: float = 0.5,
) -> list[StageBoundary]:
    """Find stage boundaries of a curve over training (see the module docstring).

    Args:
        steps: Training steps of the checkpoints.
        values: The LLC (or any curve) at those steps.
        bandwidth: Smoothing width in decades.
        flat_tol: Slope magnitude, relative to the largest, below which the curve is flat.
        dip: A slowdown's slope magnitude relative to its neighbouring peaks (0: none).

    Returns:
        Boundaries in step order.
    """
    grid, smooth = smooth_log_curve(steps, values, bandwidth)
    if grid.size == 0:
        return []
    slope = np.gradient(smooth, grid)
    biggest = float(np.abs(slope).max())
    if biggest <= 1e-9 * max(1.0, float(np.abs(smooth).max())):  # constant up to rounding
        return []
    state = np.where(np.abs(slope) < flat_tol * biggest, 0, np.sign(slope)).astype(int)
    # (x, start x, end x, slope sign before, after, "slowdown" or "" to read it from the signs)
    found: list[tuple[float, float, float, int, int, str]] = []
    i = 0
    while i < grid.size:
        j = i
        while j + 1 < grid.size and state[j + 1] == state[i]:
            j += 1
        if state[i] == 0 and i > 0 and j < grid.size - 1:  # an interior flat stretch
            found.append(((grid[i] + grid[j]) / 2, grid[i], grid[j], state[i - 1], state[j + 1],
                          ""))
        elif state[i] != 0 and j + 1 < grid.size and state[j + 1] == -state[i]:
            # a sign change between neighbouring grid points: interpolate the zero
            t = slope[j] / (slope[j] - slope[j + 1])
            x0 = grid[j] + t * (grid[j + 1] - grid[j])
            found.append((x0, x0, x0, state[i], state[j + 1], ""))
        i = j + 1
    if dip > 0:
        found += [(grid[k], grid[k], grid[k], state[k], state[k], "slowdown")
                  for k in _slowdowns(slope, state, dip)]
        found.sort()
    span = float(smooth.max() - smooth.min()) or 1.0
    out: list[StageBoundary] = []
    previous = smooth[0]
    for x0, lo, hi, before, after, kind in found:
        level = float(np.interp(x0, grid, smooth))
        shape = kind or {(1, -1): "peak", (-1, 1): "trough"}.get((before, after), "plateau")
        out.append(StageBoundary(step=10 ** x0, start_step=10 ** lo, end_step=10 ** hi,
                                 shape=shape, change=level - previous,
                                 prominence=min(1.0, abs(level - previous) / span)))
        previous = level
    return out


def stage_events(
    series: str,
    steps: np.ndarray,
    values: np.ndarray,
    tokens_per_step: float,
    *,
    probe: str = "llc",
    metric: str = "llc",
    bandwidth: float = 0.15,
    flat_tol: float = 0.05,
    dip: float = 0.5,
) -> list[Event]:
    """Stage boundaries of a series' LLC curve as ``stage`` events.

    Onset and end are the flat stretch's ends, the midpoint the boundary; the magnitude is the
    LLC change over the stage that ends there, the confidence its prominence.
    """
    detector = f"stages:bw{bandwidth:g}-flat{flat_tol:g}-dip{dip:g}"
    return [
        Event(series=series, kind="stage", probe=probe, metric=metric, layer=-1, head=-1,
              onset_step=b.start_step, midpoint_step=b.step, end_step=b.end_step,
              onset_tokens=b.start_step * tokens_per_step,
              midpoint_tokens=b.step * tokens_per_step,
              end_tokens=b.end_step * tokens_per_step, magnitude=b.change,
              confidence=b.prominence, detector=detector, evidence=b.shape)
        for b in stage_boundaries(steps, values, bandwidth, flat_tol, dip)
    ]


def store_stage_events(store: SeriesStore) -> list[Event]:
    """Return the ``stage`` events of a store's LLC curve (none without an ``llc`` metric)."""
    if not any(info.probe == "llc" and info.name == "llc" for info in store.metric_infos("llc")):
        return []
    return stage_events(store.series_id, store.steps, store.metric("llc", "llc"),
                        store.tokens_per_step)
