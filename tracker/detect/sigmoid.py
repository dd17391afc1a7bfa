"""Sigmoid onset fit: one rise (or fall) between two plateaus, located on the x axis.

Model: ``y = lo + (hi - lo) / (1 + exp(-(x - mid) / s))`` fitted by least squares
(``scipy.optimize.curve_fit``) on the x axis, log10(step + 1) by default, where emergence
curves look like logistic rises. From the fit:

- midpoint ``mid`` (50% of the rise), onset = the 10% point ``mid - s ln 9``, end = the 90%
  point ``mid + s ln 9``, width = end - onset;
- a residual bootstrap (fixed seed, ``n_boot`` refits of fitted curve + resampled residuals)
  gives percentile intervals of onset, midpoint and width, and the confidence: the share of
  refits that pass the acceptance test too.

The fit is accepted only when ``|hi - lo|`` is at least ``min_rise_ratio`` times the noise sd
(the larger of the residuals' robust sd and the series' first-difference noise), the midpoint
lies inside the observed x range, and at least ``min_side_points`` observations lie before the
onset and after the end, i.e. both plateaus were observed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from tracker.detect.base import ChangePoint, Detector, DetectorConfig, Onset, lag_noise
from tracker.detect.registry import register_detector

LN9 = math.log(9.0)


@dataclass(frozen=True)
class SigmoidConfig(DetectorConfig):
    """Config of :class:`Sigmoid`.

    Attributes:
        n_boot: Residual-bootstrap refits for the intervals and the confidence (0: none).
        ci: Coverage of the bootstrap intervals.
        seed: Seed of the bootstrap's random generator.
        min_rise_ratio: Smallest ``|hi - lo| / noise`` that counts as an event.
        min_side_points: Observations needed before the onset and after the end (so both
            plateaus are seen and a smooth trend does not pass as a very wide rise).
        n_starts: Midpoints on the starting grid (quantiles of the observed x).
        min_scale_frac: Lower bound of the logistic scale ``s`` as a fraction of the x range.
    """

    n_boot: int = 100
    ci: float = 0.95
    seed: int = 0
    min_rise_ratio: float = 8.0
    min_side_points: int = 2
    n_starts: int = 40
    min_scale_frac: float = 1e-3


def logistic(x: np.ndarray, lo: float, hi: float, mid: float, s: float) -> np.ndarray:
    """Evaluate ``lo + (hi - lo) / (1 + exp(-(x - mid) / s))`` without overflow warnings."""
    z = np.clip((x - mid) / s, -60.0, 60.0)
    return lo + (hi - lo) / (1.0 + np.exp(-z))


def _jac(x: np.ndarray, lo: float, hi: float, mid: float, s: float) -> np.ndarray:
    """Analytic Jacobian of :func:`logistic` (columns: lo, hi, mid, s)."""
    z = np.clip((x - mid) / s, -60.0, 60.0)
    f = 1.0 / (1.0 + np.exp(-z))
    df = (hi - lo) * f * (1.0 - f)
    return np.column_stack([1.0 - f, f, -df / s, -df * z / s])


def _fit(x: np.ndarray, y: np.ndarray, p0: list[float], bounds: tuple) -> np.ndarray | None:
    """One bounded least-squares fit; None when it fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        try:
            p, _ = curve_fit(
                logistic, x, y, p0=p0, bounds=bounds, method="trf", jac=_jac, max_nfev=200
            )
        except (RuntimeError, ValueError):
            return None
    return p


def _grid_start(x: np.ndarray, y: np.ndarray, cfg: SigmoidConfig) -> list[float]:
    """Best (lo, hi, mid, s) over a grid of midpoints and scales.

    For a fixed midpoint and scale the model is linear in ``lo`` and ``hi``, so each grid
    cell is solved exactly by least squares; the local fit then starts from the best cell
    rather than from a guess that may sit in the wrong basin.
    """
    span = float(x[-1] - x[0])
    # Midpoints at quantiles of the observed x values (not of the range), so the dense part
    # of a checkpoint schedule gets as many candidates as its share of the points.
    mids = np.quantile(x, np.linspace(0.02, 0.98, cfg.n_starts))
    scales = span * np.geomspace(max(cfg.min_scale_frac, 0.003), 0.3, 8)
    m, sc = np.meshgrid(mids, scales, indexing="ij")
    m, sc = m.ravel(), sc.ravel()
    phi = 1.0 / (1.0 + np.exp(-np.clip((x[None, :] - m[:, None]) / sc[:, None], -60, 60)))
    pc = phi - phi.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    var = np.maximum((pc * pc).sum(axis=1), 1e-12)
    b = (pc @ yc) / var
    sse = float(yc @ yc) - b * b * var
    k = int(np.argmin(sse))
    a = float(y.mean() - b[k] * phi[k].mean())
    return [a, a + float(b[k]), float(m[k]), float(sc[k])]


def fit_logistic(x: np.ndarray, y: np.ndarray, cfg: SigmoidConfig) -> np.ndarray | None:
    """Fit the logistic: grid start, then bounded nonlinear least squares.

    Args:
        x: Sorted x values.
        y: Values.
        cfg: Config (grid size, scale bound).

    Returns:
        ``(lo, hi, mid, s)`` or None when the fit failed.
    """
    span = float(x[-1] - x[0])
    yr = float(np.ptp(y)) or 1.0
    bounds = (
        [float(y.min()) - yr, float(y.min()) - yr, x[0] - span, cfg.min_scale_frac * span],
        [float(y.max()) + yr, float(y.max()) + yr, x[-1] + span, 2.0 * span],
    )
    p0 = _grid_start(x, y, cfg)
    p0 = [float(np.clip(v, lo, hi)) for v, lo, hi in zip(p0, *bounds, strict=True)]
    return _fit(x, y, p0, bounds)


@register_detector
class Sigmoid(Detector[SigmoidConfig]):
    """Logistic fit on the x axis; reports the onset (10% point) with bootstrap intervals."""

    name = "sigmoid"
    version = 1
    description = "logistic onset fit with residual-bootstrap intervals"
    Config = SigmoidConfig

    def _accept(self, x: np.ndarray, p: np.ndarray, noise: float) -> bool:
        """Whether a fit is an event: a big enough rise, with both plateaus observed."""
        cfg = self.config
        lo, hi, mid, s = p
        if abs(hi - lo) < cfg.min_rise_ratio * noise or not x[0] < mid < x[-1]:
            return False
        # A smooth trend is fitted best by a sigmoid wider than the data; asking for points
        # before the 10% point and after the 90% point rejects it, where the midpoint test
        # alone would not.
        before = int(np.sum(x < mid - s * LN9))
        after = int(np.sum(x > mid + s * LN9))
        return min(before, after) >= cfg.min_side_points

    def _detect(self, y: np.ndarray, x: np.ndarray) -> list[ChangePoint]:
        cfg = self.config
        p = fit_logistic(x, y, cfg)
        if p is None:
            return []
        fitted = logistic(x, *p)
        resid = y - fitted
        noise = self._noise(y, resid)
        if not self._accept(x, p, noise):
            return []
        lo, hi, mid, s = (float(v) for v in p)
        onset_x, end_x = mid - s * LN9, mid + s * LN9
        boot = self._bootstrap(x, fitted, resid, p)
        q = ((1.0 - cfg.ci) / 2.0, (1.0 + cfg.ci) / 2.0)

        def interval(vals: np.ndarray, point: float) -> tuple[float, float]:
            if len(vals) == 0:
                return (point, point)
            a, b = np.quantile(vals, q)
            return (float(a), float(b))

        conf = float(np.mean(boot[:, 4])) if len(boot) else 1.0
        onset = Onset(
            onset=onset_x,
            midpoint=mid,
            end=end_x,
            width=end_x - onset_x,
            magnitude=hi - lo,
            lo=lo,
            hi=hi,
            noise=noise,
            onset_ci=interval(boot[:, 0], onset_x),
            midpoint_ci=interval(boot[:, 1], mid),
            width_ci=interval(boot[:, 2], end_x - onset_x),
        )
        index = int(np.argmin(np.abs(x - onset_x)))
        return [ChangePoint(index=index, x=onset_x, size=hi - lo, confidence=conf, onset=onset)]

    @staticmethod
    def _noise(y: np.ndarray, resid: np.ndarray) -> float:
        """Noise sd: the larger of the residuals' robust sd and the first-difference estimate."""
        r = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
        return float(max(r, lag_noise(y, 1)))

    def _bootstrap(
        self, x: np.ndarray, fitted: np.ndarray, resid: np.ndarray, p: np.ndarray
    ) -> np.ndarray:
        """Residual bootstrap; rows of (onset, midpoint, width, magnitude, accepted)."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        span = float(x[-1] - x[0])
        bounds = (
            [-np.inf, -np.inf, x[0] - span, cfg.min_scale_frac * span],
            [np.inf, np.inf, x[-1] + span, 2.0 * span],
        )
        rows = []
        for _ in range(cfg.n_boot):
            yb = fitted + rng.choice(resid, size=len(resid), replace=True)
            pb = _fit(x, yb, list(p), bounds)
            if pb is None:
                continue
            lo, hi, mid, s = pb
            ok = self._accept(x, pb, self._noise(yb, yb - logistic(x, *pb)))
            rows.append((mid - s * LN9, mid, 2 * s * LN9, hi - lo, float(ok)))
        return np.array(rows, dtype=float).reshape(-1, 5)
