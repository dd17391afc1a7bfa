"""Is there a localized transition, or only a smooth trend? A test against a smooth null.

The test compares two least-squares models of one series on its x axis:

- the *null*, a smooth curve: a quadratic trend on the axis (``null="trend"``), or, for
  loss-like metrics, a power law plus a constant, ``c + b * (step + 1) ** -a``, with ``a`` on
  a grid (``null="power_law"``);
- the *alternative*, the null plus one logistic step ``d / (1 + exp(-(x - mid) / s))`` with a
  *localized* width (the 10-90% width at most ``max_width_frac`` of the x range) and its
  midpoint inside the data.

Residuals are modelled as AR(1) (the same inputs are probed at every checkpoint, so the
errors of neighbouring checkpoints are correlated): ``rho`` is estimated from the best
alternative's residuals and both models are refitted by generalized least squares on the
prewhitened series. The statistic is the drop in whitened residual sum of squares divided by
the innovation variance, which never falls below the metric's resolution (a quantized metric
cannot have noise smaller than one quantum). Its null distribution is simulated (pure AR(1)
noise with the estimated ``rho``, re-estimating ``rho`` in every draw; the statistic does not
depend on the trend or the scale), so ``p_value = (1 + #{simulated >= observed}) / (n + 1)``
and ``confidence = 1 - p_value``: on smooth curves, P(confidence >= 0.95) <= 0.05.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from tracker.detect.noise import quantum_floor

LN9 = float(np.log(9.0))


@dataclass(frozen=True)
class TransitionConfig:
    """Settings of :func:`test_transition`.

    Attributes:
        n_null: Simulated null series per (x grid, null model, rho) (cached per process).
        seed: Seed of the null simulation.
        max_width_frac: Widest localized 10-90% width, as a fraction of the x range.
        min_scale_frac: Narrowest logistic scale, as a fraction of the x range.
        n_scales: Logistic scales on the grid.
        min_side_points: Observations needed before the 10% point and after the 90% point.
        max_rho: Largest AR(1) coefficient used.
        min_quanta: Smallest |magnitude| in units of the metric's resolution.
    """

    n_null: int = 300
    seed: int = 12345
    max_width_frac: float = 0.2
    min_scale_frac: float = 0.002
    n_scales: int = 6
    min_side_points: int = 2
    max_rho: float = 0.95
    min_quanta: float = 1.5


@dataclass(frozen=True)
class Transition:
    """The best localized transition of a series and its evidence.

    Attributes:
        onset_x: x of the 10% point.
        midpoint_x: x of the 50% point.
        end_x: x of the 90% point.
        magnitude: Signed size of the step (after minus before).
        statistic: Drop of whitened SSE over the innovation variance.
        p_value: Simulated p-value against the smooth null.
        confidence: ``1 - p_value``.
        rho: AR(1) coefficient of the residuals.
        noise: Innovation sd used (never below the resolution).
        null: The smooth null model (``trend`` or ``power_law``).
        onset_index: Index of the first point at or after the onset.
        end_index: Index of the last point at or before the end.
    """

    onset_x: float
    midpoint_x: float
    end_x: float
    magnitude: float
    statistic: float
    p_value: float
    confidence: float
    rho: float
    noise: float
    null: str
    onset_index: int
    end_index: int

    @property
    def evidence(self) -> str:
        """One-line summary of the evidence."""
        return (f"LR {self.statistic:.1f} vs {self.null} null, AR1 rho {self.rho:.2f}, "
                f"p {self.p_value:.3g}")


def _orthonormal(basis: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(basis)
    return q


POWER_GRID = np.geomspace(0.03, 2.0, 12)


def _power_basis(log_t: np.ndarray, a: float) -> np.ndarray:
    return np.column_stack([np.ones_like(log_t), 10.0 ** (-a * (log_t - log_t[-1]))])


def _bases(x: np.ndarray, log_t: np.ndarray, null: str) -> list[np.ndarray]:
    """Null design matrices (n x k); the power law gives one per exponent on the grid."""
    if null == "trend":
        u = (x - x.mean()) / (np.ptp(x) or 1.0)
        return [np.column_stack([np.ones_like(u), u, u * u])]
    if null == "power_law":
        return [_power_basis(log_t, a) for a in POWER_GRID]
    raise ValueError(f"unknown null model {null!r} (known: trend, power_law)")


def _grid(x: np.ndarray, cfg: TransitionConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logistic columns (cells x n), with each cell's midpoint and scale."""
    span = float(np.ptp(x)) or 1.0
    mids = x[cfg.min_side_points:len(x) - cfg.min_side_points]
    s_max = cfg.max_width_frac * span / (2 * LN9)
    scales = np.geomspace(cfg.min_scale_frac * span, s_max, cfg.n_scales)
    return _localized_logistics(x, mids, scales, cfg.min_side_points)


def _localized_logistics(x: np.ndarray, mids: np.ndarray, scales: np.ndarray, min_side: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logistic columns for every (midpoint, scale) pair that is localized, with both.

    Localized: at least ``min_side`` points before the 10% point and after the 90% point.
    """
    m, s = (a.ravel() for a in np.meshgrid(mids, scales, indexing="ij"))
    z = np.clip((x[None, :] - m[:, None]) / s[:, None], -60, 60)
    phi = 1.0 / (1.0 + np.exp(-z))
    before = (x[None, :] < (m - s * LN9)[:, None]).sum(axis=1)
    after = (x[None, :] > (m + s * LN9)[:, None]).sum(axis=1)
    keep = (before >= min_side) & (after >= min_side)
    return phi[keep], m[keep], s[keep]


def _whiten(a: np.ndarray, rho: float) -> np.ndarray:
    """Prais-Winsten transform along the last axis."""
    out = a.copy()
    out[..., 1:] = a[..., 1:] - rho * a[..., :-1]
    out[..., 0] = a[..., 0] * np.sqrt(1.0 - rho * rho)
    return out


Prepared = list[tuple[np.ndarray, np.ndarray, np.ndarray]]


def _prepare(bases: list[np.ndarray], phi: np.ndarray, rho: float) -> Prepared:
    """Per null basis, what :func:`_fit` needs that does not depend on the series.

    (orthonormal whitened basis, whitened logistic columns with the basis projected out,
    their squared norms). The null draws fit thousands of series on one basis set at
    ``rho = 0``, so preparing it once gives the same numbers without the repeated QRs.
    """
    pw = _whiten(phi, rho)
    out = []
    for basis in bases:
        q = _orthonormal(_whiten(basis.T, rho).T)
        pc = pw - (pw @ q) @ q.T
        out.append((q, pc, np.maximum(np.einsum("ij,ij->i", pc, pc), 1e-15)))
    return out


def _fit(y: np.ndarray, bases: list[np.ndarray], phi: np.ndarray, rho: float,
         prepared: Prepared | None = None) -> tuple[float, float, int, int, float]:
    """Best null and alternative on the whitened series.

    Args:
        y: The series.
        bases: Null design matrices (n x k each).
        phi: Logistic columns (cells x n).
        rho: AR(1) coefficient the series and designs are whitened with.
        prepared: ``_prepare(bases, phi, rho)``, when the caller reuses it across series.

    Returns:
        (SSE of the null, SSE of the alternative, basis index, cell index, step coefficient).
    """
    yw = _whiten(y, rho)
    best0, best1, bi, ci, coef = np.inf, np.inf, 0, 0, 0.0
    for b, (q, pc, var) in enumerate(prepared or _prepare(bases, phi, rho)):
        r = yw - q @ (q.T @ yw)
        sse0 = float(r @ r)
        proj = pc @ r
        gain = proj * proj / var
        k = int(np.argmax(gain))
        best0 = min(best0, sse0)
        if sse0 - gain[k] < best1:
            best1, bi, ci, coef = sse0 - float(gain[k]), b, k, float(proj[k] / var[k])
    return best0, best1, bi, ci, coef


def _rho(y: np.ndarray, bases: list[np.ndarray], phi: np.ndarray, cfg: TransitionConfig,
         prepared: Prepared | None = None) -> float:
    """AR(1) coefficient of the best alternative's (unwhitened) residuals.

    ``prepared`` is ``_prepare(bases, phi, 0.0)`` where the caller reuses it.
    """
    _, _, bi, ci, _ = _fit(y, bases, phi, 0.0, prepared)
    design = np.column_stack([bases[bi], phi[ci]])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    e = y - design @ coef
    denom = float(e @ e)
    r = float(e[1:] @ e[:-1]) / denom if denom > 0 else 0.0
    return float(np.clip(r, 0.0, cfg.max_rho))


def _refined(y: np.ndarray, log_t: np.ndarray, phi: np.ndarray, rho: float,
             ) -> tuple[float, float, int, int, float]:
    """Power-law fit with the exponent refined continuously (observed data only)."""
    from scipy.optimize import minimize_scalar

    grid = np.log(POWER_GRID)
    fits = [_fit(y, [_power_basis(log_t, float(np.exp(g)))], phi, rho) for g in grid]

    def best(which: int) -> tuple[float, tuple[float, float, int, int, float]]:
        k = int(np.argmin([f[which] for f in fits]))
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]

        def f(g: float) -> float:
            return _fit(y, [_power_basis(log_t, float(np.exp(g)))], phi, rho)[which]

        res = minimize_scalar(f, bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-3, "maxiter": 30})
        out = _fit(y, [_power_basis(log_t, float(np.exp(res.x)))], phi, rho)
        return (out[which], out) if out[which] < fits[k][which] else (fits[k][which], fits[k])

    sse0, _ = best(0)
    _, alt = best(1)
    return min(sse0, alt[0]), alt[1], 0, alt[3], alt[4]


def _statistic(y: np.ndarray, bases: list[np.ndarray], phi: np.ndarray, rho: float,
               floor: float, log_t: np.ndarray | None = None,
               ) -> tuple[float, float, int, int, float]:
    if log_t is None:
        sse0, sse1, bi, ci, coef = _fit(y, bases, phi, rho)
    else:
        sse0, sse1, bi, ci, coef = _refined(y, log_t, phi, rho)
    dof = max(len(y) - bases[0].shape[1] - 3, 1)
    # A constant series has no noise at all; a tiny floor keeps the ratio finite (and 0).
    var = max(sse1 / dof, floor * floor, 1e-12 * float(y @ y) / len(y), 1e-300)
    return (sse0 - sse1) / var, float(np.sqrt(var)), bi, ci, coef


@functools.lru_cache(maxsize=256)
def _null_draws(key: str, x_bytes: bytes, logt_bytes: bytes, null: str, rho_bin: float,
                cfg: TransitionConfig) -> tuple[np.ndarray, float]:
    """Sorted null statistics at AR(1) ``rho_bin`` and the mean ``rho`` re-estimated in them."""
    del key
    x = np.frombuffer(x_bytes, dtype=float)
    log_t = np.frombuffer(logt_bytes, dtype=float)
    bases = _bases(x, log_t, null)
    phi, _, _ = _grid(x, cfg)
    rng = np.random.default_rng(cfg.seed)
    n = len(x)
    out = np.empty(cfg.n_null)
    estimated = np.empty(cfg.n_null)
    at_zero = _prepare(bases, phi, 0.0)
    for i in range(cfg.n_null):
        e = rng.standard_normal(n)
        z = np.empty(n)
        z[0] = e[0] / np.sqrt(1.0 - rho_bin * rho_bin)
        for t in range(1, n):
            z[t] = rho_bin * z[t - 1] + e[t]
        estimated[i] = _rho(z, bases, phi, cfg, at_zero)
        out[i] = _statistic(z, bases, phi, estimated[i], 0.0)[0]
    return np.sort(out), float(estimated.mean())


def null_statistics(x: np.ndarray, log_t: np.ndarray, null: str, rho: float,
                    cfg: TransitionConfig) -> np.ndarray:
    """Simulate null statistics (sorted) for this x grid and null model.

    The AR(1) coefficient simulated is the one that explains the estimate ``rho``: an
    estimate from one short series is biased low (the fitted trend and step absorb part of the
    slow wander), and simulating at the biased value made the test anti-conservative on
    strongly autocorrelated noise. So the simulation's own estimator is inverted: starting at
    the estimate, the coefficient rises in steps of 0.05 until the mean of the coefficients
    re-estimated in its draws reaches the estimate (or ``max_rho``).
    """
    xb = np.ascontiguousarray(x, float).tobytes()
    lb = np.ascontiguousarray(log_t, float).tobytes()
    key = hashlib.sha1(xb + lb).hexdigest()
    rho_bin = float(np.round(rho * 20) / 20)
    draws, mean_estimate = _null_draws(key, xb, lb, null, rho_bin, cfg)
    while mean_estimate < rho and rho_bin + 0.05 <= cfg.max_rho + 1e-9:
        rho_bin = float(np.round((rho_bin + 0.05) * 20) / 20)
        draws, mean_estimate = _null_draws(key, xb, lb, null, rho_bin, cfg)
    return draws


def test_transition(y: np.ndarray, x: np.ndarray, *, null: str = "trend",
                    log_t: np.ndarray | None = None, resolution: float | None = None,
                    config: TransitionConfig | None = None) -> Transition | None:
    """Test one clean series for a localized transition against a smooth null.

    Args:
        y: Finite values.
        x: Strictly increasing x of each value (the detector axis).
        null: ``trend`` (quadratic on the axis) or ``power_law`` (for loss-like metrics).
        log_t: log10(step + 1) of each value, for the power law (default: ``x``).
        resolution: Smallest step of a quantized metric, or None (estimated from the data
            when the values clearly lie on a lattice).
        config: Settings (defaults: :class:`TransitionConfig`).

    Returns:
        The best localized transition with its p-value, or None when the series is too short
        or no localized step fits.
    """
    cfg = config or TransitionConfig()
    y, x = np.asarray(y, float), np.asarray(x, float)
    log_t = x if log_t is None else np.asarray(log_t, float)
    if len(y) < 4 * cfg.min_side_points + 4:
        return None
    phi, mids, scales = _grid(x, cfg)
    if len(phi) == 0:
        return None
    bases = _bases(x, log_t, null)
    floor = quantum_floor(y, resolution)
    rho = _rho(y, bases, phi, cfg)
    stat, noise, _, ci, coef = _statistic(y, bases, phi, rho, floor,
                                          log_t if null == "power_law" else None)
    draws = null_statistics(x, log_t, null, rho, cfg)
    p = float((1 + np.sum(draws >= stat)) / (len(draws) + 1))
    if floor > 0 and abs(coef) < cfg.min_quanta * floor:
        p = 1.0
    mid, s = float(mids[ci]), float(scales[ci])
    onset_x, end_x = mid - s * LN9, mid + s * LN9
    on = min(int(np.searchsorted(x, onset_x)), len(x) - 1)
    end = max(int(np.searchsorted(x, end_x, side="right")) - 1, on)
    return Transition(onset_x, mid, end_x, coef, float(stat), p, 1.0 - p, rho, noise, null,
                      on, end)


def refine_width(y: np.ndarray, x: np.ndarray, transition: Transition, *, null: str = "trend",
                 log_t: np.ndarray | None = None, config: TransitionConfig | None = None,
                 n_grid: int = 48) -> tuple[float, float]:
    """Refit a found transition's midpoint and width on a fine grid; return (onset x, end x).

    :func:`test_transition` searches ``n_scales`` widths (six by default, a factor of about
    1.9 apart), enough to test for a step but too coarse to measure its width. This refits
    the same model (the null plus one logistic, whitened with the transition's AR(1)
    coefficient) over ``n_grid`` widths from the narrowest to the widest localized one and
    ``n_grid`` midpoints between the checkpoints around the transition, keeping the
    localization rule. A step between two checkpoints fits any width narrower than their gap
    equally well, so such a width is an upper bound at best.

    Args:
        y: The finite values the transition was found in.
        x: Their axis locations.
        transition: What :func:`test_transition` returned for them.
        null: The null model used.
        log_t: log10(step + 1) for the power-law null (default: ``x``).
        config: The settings used.
        n_grid: Midpoints and widths searched.
    """
    cfg = config or TransitionConfig()
    y, x = np.asarray(y, float), np.asarray(x, float)
    log_t = x if log_t is None else np.asarray(log_t, float)
    span = float(np.ptp(x)) or 1.0
    lo = x[max(transition.onset_index - 1, 0)]
    hi = x[min(transition.end_index + 1, len(x) - 1)]
    mids = np.linspace(min(lo, transition.midpoint_x), max(hi, transition.midpoint_x), n_grid)
    scales = np.geomspace(cfg.min_scale_frac * span, cfg.max_width_frac * span / (2 * LN9),
                          n_grid)
    phi, m, s = _localized_logistics(x, mids, scales, cfg.min_side_points)
    if not len(m):
        return transition.onset_x, transition.end_x
    _, _, _, ci, _ = _fit(y, _bases(x, log_t, null), phi, transition.rho)
    mid, scale = float(m[ci]), float(s[ci])
    return mid - scale * LN9, mid + scale * LN9
