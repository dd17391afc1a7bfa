"""Shared pieces of the ruptures-based detectors: the segment cost and change-point summaries.

The cost fits each segment by least squares against the x axis, either as a constant level
(``trend=False``) or as a straight line in x (``trend=True``). With the line model a curve that
is smooth in x (for example linear in log-step) is one segment however the checkpoints are
spaced, so the seam in Pythia's schedule at step 1000 does not look like a change; with the
constant model any steady trend is cut into steps.

Defaults (shared by PELT and binary segmentation; tuned once, globally, on the TCPD
development split, see ``scripts/eval_changepoints.py``):

- noise sd from :func:`robust_noise` averaged over lags up to 10% of the series, so that
  seasonal or autocorrelated wander counts as noise rather than as a run of changes;
- penalty per change ``5 * sigma^2 * log(n)``: BIC charges ``log(n)`` per parameter in units
  of the noise variance, and a new line segment adds about three (the break, a level and a
  slope), plus a margin for residual autocorrelation;
- after the search, changes whose level moves by less than 5 standard errors are dropped
  (:func:`prune_weak`); a break in a trend that the line model does not quite fit moves the
  level by little, a real shift or the start of a rise moves it by a lot.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from ruptures.base import BaseCost

from tracker.detect.base import ChangePoint, Detector, DetectorConfig, robust_noise


class SegmentCost(BaseCost):
    """Residual sum of squares of a per-segment least-squares fit (level, or line in x).

    ``fit`` takes an array of shape (n, 2): column 0 is y, column 1 is x. Prefix sums make
    every ``error(start, end)`` call O(1), so PELT and binary segmentation stay fast.
    """

    model = "segment_ls"

    def __init__(self, trend: bool = True, min_size: int = 3) -> None:
        self.trend = trend
        self.min_size = max(2, min_size) if trend else max(1, min_size)
        self._sums: np.ndarray | None = None
        self.signal: np.ndarray | None = None

    def fit(self, signal: np.ndarray) -> SegmentCost:
        """Precompute prefix sums of 1, x, y, x^2, xy, y^2.

        Args:
            signal: Array of shape (n, 2) with y in column 0 and x in column 1.

        Returns:
            self.
        """
        sig = np.asarray(signal, dtype=float)
        # ruptures' sanity checks read ``cost.signal``.
        self.signal = sig
        self._sums = prefix_sums(sig[None, :, 0], sig[:, 1])[:, 0]
        return self

    def error(self, start: int, end: int) -> float:
        """Return the residual sum of squares of the fit on ``[start, end)``."""
        assert self._sums is not None, "call fit first"
        n, sx, sy, sxx, sxy, syy = self._sums[:, end] - self._sums[:, start]
        rss = syy - sy * sy / n
        if self.trend:
            vxx = sxx - sx * sx / n
            if vxx > 1e-12 * max(1.0, sxx):
                vxy = sxy - sx * sy / n
                rss -= vxy * vxy / vxx
        return max(float(rss), 0.0)

    def errors_to(self, sums: np.ndarray, end: int, starts: int) -> np.ndarray:
        """:meth:`error` of ``[s, end)`` for ``s < starts``, for many series at once.

        Args:
            sums: (6, S, n + 1) prefix sums of S series (:func:`prefix_sums`).
            end: Segment end.
            starts: Number of segment starts, from 0.

        Returns:
            (S, starts), each value bit-identical to the scalar call's.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._errors(sums[:, :, end, None] - sums[:, :, :starts])

    def error_matrix(self) -> np.ndarray:
        """:meth:`error` of every ``[s, e)`` at once: (n + 1, n + 1), entry ``[s, e]``.

        The same float64 operations in the same order as :meth:`error`, elementwise, so each
        value is bit-identical to the scalar call's (entries with ``s >= e`` are meaningless).
        """
        assert self._sums is not None, "call fit first"
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._errors(self._sums[:, None, :] - self._sums[:, :, None])

    def _errors(self, diffs: np.ndarray) -> np.ndarray:
        n, sx, sy, sxx, sxy, syy = diffs
        rss = syy - sy * sy / n
        if self.trend:
            vxx = sxx - sx * sx / n
            fits = vxx > 1e-12 * np.maximum(1.0, sxx)
            vxy = sxy - sx * sy / n
            with np.errstate(divide="ignore", invalid="ignore"):
                rss = np.where(fits, rss - vxy * vxy / vxx, rss)
        return np.maximum(rss, 0.0)


def prefix_sums(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Prefix sums of 1, x, y, x^2, xy, y^2 of S series on one x axis: (6, S, n + 1).

    Both columns are centred and scaled first so the prefix-sum differences keep their
    precision (x may be token counts near 1e11). Rows are independent: one series gives the
    same sums alone or in a batch.

    Args:
        y: (S, n) values.
        x: (n,) x axis.
    """
    y = y - np.mean(y, axis=1, keepdims=True)
    xs = np.std(x)
    x = np.broadcast_to((x - np.mean(x)) / (xs if xs > 0 else 1.0), y.shape)
    cols = np.stack([np.ones_like(y), x, y, x * x, x * y, y * y])
    return np.concatenate([np.zeros((6, y.shape[0], 1)), np.cumsum(cols, axis=2)], axis=2)


def bic_penalty(sigma: float, n: int, scale: float) -> float:
    """Penalty per change point: ``scale * sigma^2 * log(n)`` (a BIC-like rule).

    Args:
        sigma: Noise sd of the series (robust estimate).
        n: Series length.
        scale: Fixed multiplier (the number of parameters a new segment adds, and a margin).
    """
    return scale * sigma * sigma * math.log(max(n, 2))


def level_z(y: np.ndarray, starts: list[int], sigma: float) -> list[float]:
    """Two-sample z score of the level change at each segment start.

    Args:
        y: The series.
        starts: Sorted segment starts (excluding 0).
        sigma: Noise sd.

    Returns:
        ``|mean(right) - mean(left)| / (sigma * sqrt(1/n_left + 1/n_right))`` per start, where
        left and right are the whole segments either side.
    """
    bounds = [0, *starts, len(y)]
    out = []
    for k, cp in enumerate(starts):
        left, right = y[bounds[k] : cp], y[cp : bounds[k + 2]]
        se = sigma * math.sqrt(1.0 / len(left) + 1.0 / len(right))
        diff = abs(float(np.mean(right) - np.mean(left)))
        out.append(diff / se if se > 0 else math.inf)
    return out


def prune_weak(y: np.ndarray, starts: list[int], sigma: float, min_z: float) -> list[int]:
    """Drop the change points whose level change is within noise, all in one pass.

    Every score is taken on the segmentation as found (not recomputed after a removal): a
    weak change between two short segments is judged on those short segments, so a run of
    small steps cut into a trend or a wandering stretch goes as a whole, while a real shift
    between long segments is kept.

    Args:
        y: The series.
        starts: Sorted segment starts (excluding 0).
        sigma: Noise sd.
        min_z: Smallest :func:`level_z` a change point needs to stay.

    Returns:
        The surviving starts, sorted.
    """
    return [cp for cp, z in zip(starts, level_z(y, starts, sigma), strict=True) if z >= min_z]


def segments_to_change_points(
    y: np.ndarray, x: np.ndarray, starts: list[int], sigma: float
) -> list[ChangePoint]:
    """Summarise segment boundaries as change points.

    ``size`` is the difference of the mean levels of the segments either side (their sum over
    all change points is the total change, and it stays meaningful at a kink where the fitted
    lines meet). ``confidence`` turns the two-sample z score of that difference
    (:func:`level_z`) into ``erf(z / (2 * sqrt(2)))`` = P(|N(0,1)| < z / 2), so that only a
    difference several noise standard errors wide gets near 1.

    Args:
        y: The series.
        x: Its x axis.
        starts: Sorted indices where new segments start (excluding 0).
        sigma: Noise sd.

    Returns:
        Change points in index order.
    """
    bounds = [0, *starts, len(y)]
    out: list[ChangePoint] = []
    for k, (cp, z) in enumerate(zip(starts, level_z(y, starts, sigma), strict=True)):
        size = float(np.mean(y[cp : bounds[k + 2]]) - np.mean(y[bounds[k] : cp]))
        conf = math.erf(z / (2.0 * math.sqrt(2.0))) if math.isfinite(z) else 1.0
        out.append(ChangePoint(index=int(cp), x=float(x[cp]), size=size, confidence=conf))
    return out


@dataclass(frozen=True)
class SegmentationConfig(DetectorConfig):
    """Config shared by the ruptures-based detectors.

    Attributes:
        trend: Segments are lines in x (True) or constant levels (False).
        min_size: Smallest segment, in points.
        penalty_scale: ``c`` in the per-change penalty ``c * sigma^2 * log(n)``.
        noise_lag_frac: Longest lag of the noise estimate, as a fraction of the series length
            (see :func:`robust_noise`); lags above 1 let slow wander count as noise.
        min_level_z: Changes whose level change is below this many standard errors are
            dropped (:func:`prune_weak`); 0 keeps every change the search finds.
        penalty: Fixed penalty that replaces the rule above when set (for experiments).
    """

    trend: bool = True
    min_size: int = 3
    penalty_scale: float = 5.0
    noise_lag_frac: float = 0.1
    min_level_z: float = 5.0
    penalty: float | None = None


class SegmentationDetector(Detector[SegmentationConfig]):
    """Penalised least-squares segmentation through a ruptures search algorithm."""

    Config: ClassVar[type[DetectorConfig]] = SegmentationConfig

    @abc.abstractmethod
    def _search(self, cost: SegmentCost, signal: np.ndarray, pen: float) -> list[int]:
        """Run the search; return ruptures breakpoints (segment ends, the last one ``n``)."""

    def _detect(self, y: np.ndarray, x: np.ndarray) -> list[ChangePoint]:
        cfg = self.config
        n = len(y)
        if n < 2 * cfg.min_size:
            return []
        sigma, pen = self._noise_and_penalty(y)
        cost = SegmentCost(trend=cfg.trend, min_size=cfg.min_size)
        bkps = self._search(cost, np.column_stack([y, x]), pen)
        return self._change_points(y, x, bkps, sigma)

    def _noise_and_penalty(self, y: np.ndarray) -> tuple[float, float]:
        sigma = robust_noise(y, self.config.noise_lag_frac)
        return sigma, self._penalty(sigma, len(y))

    def _penalty(self, sigma: float, n: int) -> float:
        cfg = self.config
        return cfg.penalty if cfg.penalty is not None else bic_penalty(sigma, n, cfg.penalty_scale)

    def _change_points(self, y: np.ndarray, x: np.ndarray, bkps: list[int], sigma: float
                       ) -> list[ChangePoint]:
        """Change points from the search's segment ends, weak ones pruned."""
        starts = sorted(int(b) for b in bkps if 0 < b < len(y))
        starts = prune_weak(y, starts, sigma, self.config.min_level_z)
        return segments_to_change_points(y, x, starts, sigma)
