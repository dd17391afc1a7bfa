"""Answer the token-cluster questions of the README from swept series stores.

    python scripts/clusters_findings.py STORE.h5 [STORE.h5 ...] [--n-boot 2000]

Each store must hold the ``clusters`` and ``induction`` probes (``tracker sweep ... --probes
clusters,induction --text-dataset ...``). Per store it prints:

1. energy: the steps at which every prompt x beta energy curve rises monotonically over the
   layer boundaries (``energy_monotone == 1``), those at which at least one does, and the mean
   violations per prompt before and after;
2. metastable clusters: the steps with plateaus of the mass near 1 (``plateau_width > 0``) and
   the tracked clusters living at least 3 boundaries (``metastable_clusters``);
3. the induction phase change: the first step at which the best head's induction score reaches
   the probe's threshold, and the two-timescale verdicts and plateau widths before and after;
4. collapse speed (``collapse_speed``, slope of the mass near 1 per layer) against the largest
   OV spectral radius over checkpoints: Pearson r with a Fisher-z 95% interval and a seeded
   bootstrap 95% interval over checkpoints, and Spearman's rho. Neighbouring checkpoints are
   not independent, so both intervals are optimistic.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from tracker.store import SeriesStore

VERDICTS = {0.0: "none", 1.0: "weak", 2.0: "confirmed"}


def correlation(x: np.ndarray, y: np.ndarray, n_boot: int = 2000,
                seed: int = 0) -> dict[str, float]:
    """Pearson r of finite pairs with Fisher-z and bootstrap 95% intervals, and Spearman rho."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = np.asarray(x)[keep], np.asarray(y)[keep]
    n = len(x)
    if n < 4 or np.std(x) == 0 or np.std(y) == 0:
        return {"n": float(n), "r": np.nan, "fisher_lo": np.nan, "fisher_hi": np.nan,
                "boot_lo": np.nan, "boot_hi": np.nan, "spearman": np.nan}
    r = float(np.corrcoef(x, y)[0, 1])
    z, half = np.arctanh(np.clip(r, -0.999999, 0.999999)), 1.96 / np.sqrt(n - 3)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        if np.std(x[idx]) > 0 and np.std(y[idx]) > 0:
            boots.append(np.corrcoef(x[idx], y[idx])[0, 1])
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"n": float(n), "r": r, "fisher_lo": float(np.tanh(z - half)),
            "fisher_hi": float(np.tanh(z + half)), "boot_lo": float(lo), "boot_hi": float(hi),
            "spearman": float(stats.spearmanr(x, y).statistic)}


def first_step_at(steps: np.ndarray, values: np.ndarray, threshold: float,
                  below: bool = False) -> int | None:
    """First step whose value reaches ``threshold`` (falls under it if ``below``); else None."""
    values = np.asarray(values)
    hits = np.flatnonzero(values < threshold if below else values >= threshold)
    return int(steps[hits[0]]) if hits.size else None


def _steps(steps: np.ndarray, mask: np.ndarray) -> str:
    chosen = steps[mask]
    if not chosen.size:
        return "none"
    return f"{chosen.size} of {len(steps)} ({', '.join(str(s) for s in chosen[:12])}" + (
        ", ...)" if chosen.size > 12 else ")")


def _verdicts(values: np.ndarray) -> str:
    names = [VERDICTS.get(float(v), "undefined") for v in values]
    return ", ".join(f"{k} {names.count(k)}" for k in ("confirmed", "weak", "none", "undefined")
                     if names.count(k))


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def findings(path: Path, n_boot: int) -> dict[str, Any]:
    """Print and return the answers for one store."""
    store = SeriesStore(path)
    steps = store.steps

    def metric(name: str) -> np.ndarray:
        return np.asarray(store.metric("clusters", name), dtype=float)

    print(f"## {store.series_id} ({len(steps)} checkpoints, steps {steps[0]}-{steps[-1]})")
    mono, viol = metric("energy_monotone"), metric("energy_violations")
    print(f"1. energy monotone over layers in every prompt x beta curve at "
          f"{_steps(steps, mono == 1.0)}; in at least one at {_steps(steps, mono > 0)}; "
          f"violations per prompt {np.nanmin(viol):.2f}-{np.nanmax(viol):.2f} "
          f"(last {viol[-1]:.2f})")
    width, meta = metric("plateau_width"), metric("metastable_clusters")
    print(f"2. mass-near-1 plateaus at {_steps(steps, width > 0)}; tracked clusters living "
          f">= 3 boundaries per prompt {meta[0]:.1f} at step {steps[0]}, {meta[-1]:.1f} at the "
          f"end (max {np.nanmax(meta):.1f} at step {steps[int(np.nanargmax(meta))]})")
    info = next(i for i in store.metric_infos("induction") if i.name == "induction_score")
    best = np.asarray(store.metric("induction", "induction_score")).reshape(len(steps), -1)
    threshold = info.threshold if info.threshold is not None else 0.4
    onset = first_step_at(steps, best.max(axis=1), threshold)
    verdict, ratio = metric("two_timescale_verdict"), metric("two_timescale_ratio")
    control = metric("control_mass_near_1")[:, -1]
    print(f"3. induction (best head >= {threshold:g}) from step {onset}; control collapse onset "
          f"layer {np.unique(metric('collapse_onset_layer')).tolist()}; the control's mass near "
          f"1 at the last boundary first falls below 0.9 at step "
          f"{first_step_at(steps, control, 0.9, below=True)}")
    if onset is not None:
        for label, part in (("before", steps < onset), ("after", steps >= onset)):
            print(f"   {label}: verdicts {_verdicts(verdict[part])}, plateau width "
                  f"{_mean(width[part]):.2f}, ratio {_mean(ratio[part]):.2f}, control last "
                  f"{_mean(control[part]):.2f}")
    speed, radius = metric("collapse_speed"), metric("ov_spectral_radius_max")
    corr = correlation(speed, radius, n_boot)
    print(f"4. collapse speed vs max OV spectral radius over {corr['n']:.0f} checkpoints: "
          f"r = {corr['r']:.2f} (Fisher 95% [{corr['fisher_lo']:.2f}, {corr['fisher_hi']:.2f}], "
          f"bootstrap [{corr['boot_lo']:.2f}, {corr['boot_hi']:.2f}]), "
          f"Spearman {corr['spearman']:.2f}")
    return {"series": store.series_id, "induction_step": onset, "correlation": corr,
            "monotone_steps": steps[mono == 1.0].tolist(),
            "plateau_steps": steps[width > 0].tolist()}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+", type=Path)
    parser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args(argv)
    return [findings(path, args.n_boot) for path in args.stores]


if __name__ == "__main__":
    main()
