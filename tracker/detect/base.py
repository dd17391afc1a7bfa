"""The detector interface: series in, change points out.

A detector has a registered ``name``, a ``version`` and a frozen ``Config``; results stored
downstream are keyed by name, version and config hash, so changing a default or bumping the
version makes exactly that detector's events recompute.

Every detector works on an explicit x axis. Checkpoint schedules are not uniform (Pythia saves
at steps 0, 1, 2, 4, ..., 512 and then every 1000 steps), so anything measured per checkpoint
index, such as a slope, changes at the seam between the two spacings even when the underlying
curve is smooth. :func:`make_x_axis` builds the axis (log10(step + 1) by default) and the
detectors model each segment against it.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from tracker.detect.axis import XAxis, axis_values
from tracker.identity import Versioned, VersionedConfig


@dataclass(frozen=True)
class DetectorConfig(VersionedConfig):
    """Base class of detector configs; subclasses are frozen dataclasses of JSON-able fields."""


ConfigT = TypeVar("ConfigT", bound=DetectorConfig)


@dataclass(frozen=True)
class Onset:
    """Shape of a sigmoid rise, on the x axis the detector was given.

    Attributes:
        onset: x of the 10% point of the rise.
        midpoint: x of the 50% point.
        end: x of the 90% point.
        width: ``end - onset`` (the 10-90% width).
        magnitude: ``hi - lo``, signed (negative for a fall).
        lo: Fitted level before the rise.
        hi: Fitted level after the rise.
        noise: Noise standard deviation the acceptance test used.
        onset_ci: Bootstrap (low, high) interval of ``onset``.
        midpoint_ci: Bootstrap (low, high) interval of ``midpoint``.
        width_ci: Bootstrap (low, high) interval of ``width``.
    """

    onset: float
    midpoint: float
    end: float
    width: float
    magnitude: float
    lo: float
    hi: float
    noise: float
    onset_ci: tuple[float, float]
    midpoint_ci: tuple[float, float]
    width_ci: tuple[float, float]


@dataclass(frozen=True)
class ChangePoint:
    """One detected change.

    Attributes:
        index: Index into the series passed to :meth:`Detector.detect` (NaNs included): the
            first point of the new segment.
        x: Location of the change on the x axis.
        size: Signed change in level across the change point (after minus before).
        confidence: How sure the detector is, in [0, 1].
        onset: Sigmoid shape, for detectors that fit one; None otherwise.
    """

    index: int
    x: float
    size: float
    confidence: float
    onset: Onset | None = None


class Detector(Versioned[ConfigT], abc.ABC):
    """A change-point detector over one series.

    Subclasses set ``name``, ``version``, ``description`` and ``Config`` and implement
    :meth:`_detect` on a clean (finite, x-sorted) series; :meth:`detect` does the cleaning and
    maps indices back to the caller's series. ``self.config`` is typed by the subclass's
    parameter (``class PeltDetector(Detector[PeltConfig])``).
    """

    Config = DetectorConfig

    def detect(self, y: np.ndarray, x: np.ndarray | None = None) -> list[ChangePoint]:
        """Find change points in ``y``.

        Args:
            y: 1-d series; NaN (or inf) marks a missing value and is dropped before detection.
            x: x coordinate of each value (same length as ``y``, strictly increasing where
                ``y`` is finite); the checkpoint index when None.

        Returns:
            Change points sorted by index; indices refer to the original ``y``.

        Raises:
            ValueError: If ``y`` is not 1-d, ``x`` has the wrong length, or ``x`` is not
                strictly increasing over the finite values.
        """
        y = np.asarray(y, dtype=float)
        if y.ndim != 1:
            raise ValueError(f"detect expects a 1-d series, got shape {y.shape}")
        x = np.arange(len(y), dtype=float) if x is None else np.asarray(x, dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"x has shape {x.shape} but y has shape {y.shape}")
        keep = np.flatnonzero(np.isfinite(y) & np.isfinite(x))
        yc, xc = y[keep], x[keep]
        if len(yc) > 1 and np.any(np.diff(xc) <= 0):
            raise ValueError("x must be strictly increasing")
        if len(yc) < 4:
            return []
        found = self._detect(yc, xc)
        # Map positions in the cleaned series back to the caller's indices.
        out = [dataclasses.replace(cp, index=int(keep[cp.index])) for cp in found]
        return sorted(out, key=lambda cp: cp.index)

    def detect_many(self, ys: np.ndarray, x: np.ndarray | None = None
                    ) -> list[list[ChangePoint]]:
        """:meth:`detect` on each row of ``ys`` (S, n), all on one x axis.

        Detectors that can batch the search override this; the results are those of
        :meth:`detect` row by row.
        """
        return [self.detect(y, x) for y in np.asarray(ys, dtype=float)]

    @abc.abstractmethod
    def _detect(self, y: np.ndarray, x: np.ndarray) -> list[ChangePoint]:
        """Detect on a clean series: finite ``y``, strictly increasing ``x``, at least 4 points.

        Returns change points whose ``index`` is a position in this cleaned series.
        """


def make_x_axis(
    steps: Sequence[int] | np.ndarray,
    tokens: Sequence[int] | np.ndarray | None = None,
    axis: XAxis = "log_step",
) -> np.ndarray:
    """Build the x axis detectors run on.

    Args:
        steps: Checkpoint steps, in series order.
        tokens: Tokens seen at each checkpoint; required for ``axis="tokens"``.
        axis: ``log_step`` for log10(step + 1) (the default: emergence is roughly uniform in
            log training time, and the +1 keeps step 0 finite), ``tokens`` for tokens seen,
            ``index`` for the checkpoint index 0..n-1.

    Returns:
        Float array of the same length as ``steps``.

    Raises:
        ValueError: For an unknown axis, missing or mismatched tokens, or negative steps.
    """
    return axis_values(steps, tokens, axis)


def lag_noise(y: np.ndarray, lag: int = 1) -> float:
    """Estimate a noise sd from the lag-``lag`` differences of a series.

    Uses MAD(y[t + lag] - y[t]) / sqrt(2), scaled to a normal sd: differencing removes level
    shifts and (with the MAD's centring) steady trends, and the median ignores the few large
    jumps at change points.

    Args:
        y: Finite 1-d series.
        lag: Distance between the differenced points (1 = first differences).

    Returns:
        A positive sd (falls back to the mean absolute difference, then to a tiny fraction of
        the series' scale, when the differences are mostly zero, so penalties never vanish).
    """
    arr = np.asarray(y, dtype=float)
    lag = max(1, min(int(lag), len(arr) - 1))
    d = arr[lag:] - arr[:-lag]
    if len(d) == 0:
        return 1.0
    mad = float(np.median(np.abs(d - np.median(d))))
    sigma = 1.4826 * mad / np.sqrt(2.0)
    if sigma > 0:
        return sigma
    alt = float(np.mean(np.abs(d - np.median(d)))) / np.sqrt(2.0)
    if alt > 0:
        return alt
    scale = float(np.max(np.abs(arr))) if len(arr) else 0.0
    return max(scale * 1e-6, 1e-12)


def robust_noise(y: np.ndarray, lag_frac: float = 0.0) -> float:
    """Estimate the noise sd of a series, counting slow wander as noise.

    The estimate is the mean of :func:`lag_noise` over lags 1..K with
    ``K = max(1, round(lag_frac * n))``. For independent noise every lag gives the same
    answer. For autocorrelated noise (seasonality, an AR process, a random walk) the longer
    lags see the slower wander too, so the penalties built on this estimate do not cut such a
    series into many short segments; averaging over lags keeps the estimate stable where a
    single lag would jump about. ``lag_frac=0`` gives plain first differences.

    Args:
        y: Finite 1-d series.
        lag_frac: Longest lag as a fraction of the series length.

    Returns:
        A positive noise sd.
    """
    n = len(y)
    k_max = max(1, min(round(lag_frac * n), n - 1))
    return float(np.mean([lag_noise(y, k) for k in range(1, k_max + 1)]))


def robust_noise_many(ys: np.ndarray, lag_frac: float = 0.0) -> np.ndarray:
    """:func:`robust_noise` of each row of ``ys`` (S, n), finite, n >= 2; the same values.

    The medians run over all rows at once; a row whose differences are mostly zero at some
    lag takes :func:`lag_noise`'s fallbacks through the scalar function.
    """
    ys = np.asarray(ys, dtype=float)
    n = ys.shape[1]
    k_max = max(1, min(round(lag_frac * n), n - 1))
    per_lag = np.empty((len(ys), k_max))
    for k in range(1, k_max + 1):
        d = ys[:, k:] - ys[:, :-k]
        mad = np.median(np.abs(d - np.median(d, axis=1, keepdims=True)), axis=1)
        sigma = 1.4826 * mad / np.sqrt(2.0)
        for i in np.flatnonzero(~(sigma > 0)):
            sigma[i] = lag_noise(ys[i], k)
        per_lag[:, k - 1] = sigma
    return np.array([float(np.mean(row.tolist())) for row in per_lag])
