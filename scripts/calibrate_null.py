"""Null calibration of the event definition: how often a curve with no event gets one.

Usage: ``python scripts/calibrate_null.py [--n 60] [--seed 7]``

For each null family, ``n`` curves on the Pythia grid (154 checkpoints) go through
:func:`tracker.events.find_in_series` as *unoriented* series (any significant step is a
``change``, with no threshold or minimum size to hide behind), so the figure is the raw
false-positive rate of the transition test: the fraction of curves with an event at
confidence >= 0.95, and at >= 0.99 (the default ``alpha = 0.01``). Families: white noise;
AR(1) noise with rho 0.5 and 0.9 (sd 0.02); a power-law loss with AR(1) rho 0.9 noise.
(An early exponential saturation is a real localized step on log-step, so it is no null for
an unoriented series; ``scripts/eval_events.py`` checks it as a mechanism metric that stays
below its threshold.)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from tracker.events import SeriesSpec, find_in_series

STEPS = np.array([0] + [2**k for k in range(10)] + list(range(1000, 143001, 1000)), float)


def ar1(rng: np.random.Generator, sd: float, rho: float) -> np.ndarray:
    """Stationary AR(1) noise with marginal sd ``sd``."""
    e = rng.normal(0.0, sd * np.sqrt(1 - rho * rho), len(STEPS))
    z = np.empty(len(STEPS))
    z[0] = rng.normal(0.0, sd)
    for t in range(1, len(STEPS)):
        z[t] = rho * z[t - 1] + e[t]
    return z


FAMILIES: dict[str, Callable[[np.random.Generator], tuple[str, np.ndarray]]] = {
    "white": lambda r: ("score", 0.1 + r.normal(0, 0.02, len(STEPS))),
    "ar1_rho0.5": lambda r: ("score", 0.1 + ar1(r, 0.02, 0.5)),
    "ar1_rho0.9": lambda r: ("score", 0.1 + ar1(r, 0.02, 0.9)),
    "loss_ar1_rho0.9": lambda r: ("loss", 2.5 + 6 * (STEPS + 1) ** -r.uniform(0.2, 0.6)
                                  + ar1(r, 0.02, 0.9)),
}


def run(n: int, seed: int, report: Callable[[str], None] = print,
        families: tuple[str, ...] | None = None) -> dict[str, tuple[float, float]]:
    """Fraction of null curves with an event at confidence >= 0.95 and >= 0.99, per family.

    ``families`` restricts the run to some of :data:`FAMILIES` (default: all).
    """
    rng = np.random.default_rng(seed)
    out = {}
    chosen = {k: v for k, v in FAMILIES.items() if families is None or k in families}
    for name, make in chosen.items():
        at95 = at99 = 0
        for _ in range(n):
            metric, y = make(rng)
            events = find_in_series("null", STEPS, [SeriesSpec(metric, metric, y,
                                                               higher_is_mechanism=None)])
            conf = [e.confidence for e in events if e.kind == "change"]
            at95 += any(c >= 0.95 for c in conf)
            at99 += any(c >= 0.99 for c in conf)
        out[name] = (at95 / n, at99 / n)
        report(f"{name:<16} n {n}  P(event conf>=0.95) {at95 / n:.3f}  "
               f"P(event conf>=0.99) {at99 / n:.3f}")
    total = n * len(chosen)
    report(f"all {total} curves: conf>=0.95 {sum(v[0] for v in out.values()) * n / total:.3f}  "
           f"conf>=0.99 {sum(v[1] for v in out.values()) * n / total:.3f}")
    return out


def main() -> None:
    """Print the calibration figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=75)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run(args.n, args.seed)


if __name__ == "__main__":
    main()
