"""Synthetic benchmark of the event definition on the Pythia grid (154 checkpoints).

Null curves (no event should be reported): flat noise, power-law loss with AR(1) noise, an
early exponential saturation that stays below the threshold, quantized flicker by one
quantum, one outlier above the threshold. Planted: sigmoid rises on log-step (midpoints
between step 80 and 60000, 10-90% widths 0.04-0.25 decades, amplitudes 0.45-0.9, noise sd
0.01-0.04, crossing the threshold 0.4) and a 0.35-nat loss drop at the same place on a power
law (with the rise: a phase transition). Each null set and each planted pair is written as a
series store (one probe per metric, the loss as an unoriented scalar) and the stores go
through :func:`tracker.events.detect_stores`, the code ``tracker detect`` runs.

Usage: ``python scripts/eval_events.py [--n 40] [--seed 2024] [--stores DIR]``
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tracker.events import SeriesSpec, detect_stores
from tracker.store import Metric, ProbeResult, StepShard, consolidate, write_shard

STEPS = np.array([0] + [2**k for k in range(10)] + list(range(1000, 143001, 1000)), float)
X = np.log10(STEPS + 1.0)
THRESHOLD = 0.4
CHANGES = ("emergence", "fade", "change", "phase_transition", "handover")


def _ar1(rng: np.random.Generator, sd: float, rho: float) -> np.ndarray:
    e = rng.normal(0.0, sd * np.sqrt(1 - rho * rho), len(X))
    z = np.empty(len(X))
    z[0] = rng.normal(0.0, sd)
    for t in range(1, len(X)):
        z[t] = rho * z[t - 1] + e[t]
    return z


def _loss(rng: np.random.Generator) -> np.ndarray:
    return (rng.uniform(2.0, 3.5) + rng.uniform(4, 8) * (STEPS + 1.0) ** -rng.uniform(0.15, 0.7)
            + _ar1(rng, rng.uniform(0.005, 0.03), rng.uniform(0.0, 0.7)))


def null_specs(rng: np.random.Generator) -> dict[str, SeriesSpec]:
    """One series of each null type."""
    n = len(X)
    flat = 0.1 + rng.normal(0, rng.uniform(0.01, 0.04), n)
    tau = 10 ** rng.uniform(0.5, 2.0)
    sat = 0.3 * (1 - np.exp(-STEPS / tau)) + rng.normal(0, rng.uniform(0.01, 0.03), n)
    q = 1 / 319
    flick = np.full(n, round(0.2 / q) * q)
    flick[rng.choice(n, 6, replace=False)] += q
    spike = 0.1 + rng.normal(0, 0.02, n)
    spike[rng.integers(5, n)] = 0.7
    return {"flat": SeriesSpec("p", "score", flat, threshold=THRESHOLD),
            "power_law_loss": SeriesSpec("loss", "loss", _loss(rng), higher_is_mechanism=None),
            "saturation": SeriesSpec("p", "score", sat, threshold=THRESHOLD),
            "flicker": SeriesSpec("p", "score", flick, threshold=THRESHOLD, resolution=q),
            "outlier": SeriesSpec("p", "score", spike, threshold=THRESHOLD)}


def planted(rng: np.random.Generator) -> tuple[float, SeriesSpec, SeriesSpec]:
    """A rise and a loss drop at the same midpoint (x), on the Pythia grid."""
    mid = rng.uniform(np.log10(81), np.log10(60001))
    s = rng.uniform(0.04, 0.25) / (2 * np.log(9))
    step = 1 / (1 + np.exp(-(X - mid) / s))
    rise = 0.05 + rng.uniform(0.45, 0.9) * step + rng.normal(0, rng.uniform(0.01, 0.04), len(X))
    loss = _loss(rng) - 0.35 * step
    return mid, SeriesSpec("induction", "score", rise, threshold=THRESHOLD), \
        SeriesSpec("loss", "loss", loss, higher_is_mechanism=None)


def _hit(events: list, kind: str, metric: str, mid: float) -> bool:
    i = int(np.searchsorted(X, mid))
    gap = max(X[min(i, len(X) - 1)] - X[max(i - 1, 0)], 0.05)
    return any(e.kind == kind and e.metric == metric
               and abs(np.log10(e.midpoint_step + 1) - mid) <= gap for e in events)


def write_store(path: Path, series: str, specs: dict[str, SeriesSpec]) -> Path:
    """Write ``specs`` as scalar metrics of a series store on the Pythia grid.

    Each spec becomes metric ``name`` of probe ``spec.probe`` (with its threshold, resolution
    and orientation), as a probe sweep would store it.
    """
    for i, step in enumerate(STEPS.astype(int)):
        shard = StepShard(series, 1, int(step), int(step), f"step{step}", f"h{step}")
        for name, spec in specs.items():
            result = ProbeResult(spec.probe, 1, "{}", "0" * 16)
            key = (spec.probe, result.key)
            shard.results.setdefault(key, result).add(
                Metric(name=name, kind="scalar", description=name,
                       higher_is_mechanism=spec.higher_is_mechanism,
                       threshold=spec.threshold, resolution=spec.resolution),
                np.float32(spec.values[i]))
        write_shard(path, shard)
    consolidate(path, {"kind": "eval_events"})
    return path


def _detect(paths: Sequence[Path]) -> list[list]:
    """Events of each store, as ``tracker detect`` finds (and writes) them."""
    found, _ = detect_stores(paths)
    return [list(f.frame.itertuples()) for f in found]


def run(n: int, seed: int, report: Callable[[str], None] = print,
        root: str | Path | None = None) -> dict[str, float]:
    """Score ``n`` stores of nulls and ``n`` planted stores; returns the figures by name.

    Stores are written under ``root`` (default: a temporary directory, removed after).
    """
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(root or tmp)
        base.mkdir(parents=True, exist_ok=True)
        null_paths, plants = [], []
        for k in range(n):
            null_paths.append(write_store(base / f"null{k}.h5", f"null/{k}", null_specs(rng)))
        for k in range(n):
            mid, rise, loss = planted(rng)
            plants.append(mid)
            write_store(base / f"planted{k}.h5", f"planted/{k}",
                        {"score": rise, "loss": loss})
        nulls = _detect(null_paths)
        planted_events = _detect([base / f"planted{k}.h5" for k in range(n)])
    names = ("flat", "power_law_loss", "saturation", "flicker", "outlier")
    counts = dict.fromkeys(names, 0.0)
    high = dict.fromkeys(names, 0.0)
    phase_null = 0
    for events in nulls:
        for name in names:
            ev = [e for e in events if e.kind in CHANGES and e.metric == name]
            counts[name] += len(ev) / n
            high[name] += any(e.confidence >= 0.95 for e in ev) / n
        phase_null += any(e.kind == "phase_transition" for e in events)
    found = {"rise": 0.0, "loss_drop": 0.0, "phase_transition": 0.0}
    for mid, ev in zip(plants, planted_events, strict=True):
        found["rise"] += _hit(ev, "emergence", "score", mid) / n
        found["loss_drop"] += _hit(ev, "change", "loss", mid) / n
        found["phase_transition"] += any(e.kind == "phase_transition" for e in ev) / n
    for name in counts:
        report(f"null {name:<16} events/curve {counts[name]:.3f}  "
               f"P(conf>=0.95) {high[name]:.3f}")
    report(f"null stores with a phase transition: {phase_null}/{n}")
    for name, value in found.items():
        report(f"recall {name:<18} {value:.3f}")
    return {**{f"null_{k}": v for k, v in counts.items()}, "null_phase": phase_null,
            **{f"recall_{k}": v for k, v in found.items()}}


def main() -> None:
    """Print the benchmark's figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--stores", help="keep the stores in this directory")
    args = parser.parse_args()
    run(args.n, args.seed, root=args.stores)


if __name__ == "__main__":
    main()
