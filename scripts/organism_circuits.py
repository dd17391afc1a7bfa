"""Circuits over training on the organism suite: sizes, faithfulness, stability, roles.

    python scripts/organism_circuits.py [--suite default] [--root DIR] [--models l]
        [--stores DIR] [--steps all] [--probe-config circuits.ig_steps=10 ...]

Sweeps the chosen models' checkpoints (default: the largest) with the ``circuits`` probe and
the ``induction`` and ``successor_heads`` probes (their head scores give circuit heads their
roles) into series stores, runs the package's event detection on them, and prints per task:
when faithfulness is first defined (the model does the task), the minimal circuit's size and
normalised faithfulness at checkpoints through training, when the circuit settles (the onset
of an emergence event of its Jaccard similarity to the final circuit, by the package's one
definition, and, descriptively, the first step from which its weighted Jaccard similarity to
the final circuit stays >= 0.75), the role table at the last checkpoint and the role swaps.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from tracker.cli.sweep import build_probes
from tracker.events import find_events
from tracker.events.circuits import (
    SETTLED,
    circuit_tasks,
    formation,
    role_table,
    task_similarity,
)
from tracker.labels import HeadId, format_tokens, short_series
from tracker.organisms import train_suite
from tracker.runner import sweep
from tracker.store import SeriesStore


def _heads(mask: np.ndarray) -> str:
    return " ".join(HeadId(int(a), int(b)).label for a, b in zip(*np.nonzero(mask), strict=True))


def summarise(store: SeriesStore) -> dict[str, Any]:
    """Per task: curves, first defined step, settling step, last role table, role swaps."""
    events = find_events(store)
    out: dict[str, Any] = {"series": store.series_id, "steps": store.steps.tolist(), "tasks": {}}
    for task in circuit_tasks(store):
        p = f"circuit_{task}_"
        faith = store.metric("circuits", p + "faithfulness")
        size = store.metric("circuits", p + "size")
        frac = store.metric("circuits", p + "size_fraction")
        sim = task_similarity(store, task)
        defined = np.nonzero(np.isfinite(faith))[0]
        settles = sorted((e for e in events if e.kind == "emergence" and e.metric in (
            p + "jaccard_final", p + "weighted_final")), key=lambda e: e.onset_step)
        roles = {role: _heads(held[-1]) for role, held in role_table(store, task).items()}
        out["tasks"][task] = {
            "faithfulness": faith.tolist(), "size": size.tolist(),
            "size_fraction": frac.tolist(),
            "clean_metric": store.metric("circuits", p + "clean_metric").tolist(),
            "corrupted_metric": store.metric("circuits", p + "corrupted_metric").tolist(),
            "jaccard_final": sim.jaccard_final.tolist(),
            "weighted_final": sim.weighted_final.tolist(),
            "first_defined_step": int(store.steps[defined[0]]) if len(defined) else None,
            "settles_step": settles[0].onset_step if settles else None,
            "settles_tokens": settles[0].onset_tokens if settles else None,
            "settled_step": formation(store, task).settled_step,
            "defined_from_step": formation(store, task).defined_step,
            "last_roles": roles,
            "role_swaps": [(e.midpoint_step, e.metric, e.members) for e in events
                           if e.kind == "role_swap" and e.metric.startswith(p)],
        }
    return out


def print_summary(summary: dict[str, Any], every: int) -> None:
    """Print one table per task (every ``every``-th checkpoint and the last)."""
    steps = summary["steps"]
    print(f"\n## {summary['series']}")
    for task, t in summary["tasks"].items():
        settles = "-" if t["settles_step"] is None else (
            f"{t['settles_step']:.0f} ({format_tokens(t['settles_tokens'])} tokens)")
        print(f"\n### {task}: faithfulness first defined at step {t['first_defined_step']}, "
              f"at every later checkpoint from {t['defined_from_step']}; "
              f"similarity-to-final emergence event at {settles}; weighted Jaccard to final "
              f">= {SETTLED} from step {t['settled_step']}")
        print("| step | clean | corrupted | edges | fraction | faithfulness | Jaccard final "
              "| weighted |\n|---|---|---|---|---|---|---|---|")
        for i, step in enumerate(steps):
            if i % every and i != len(steps) - 1:
                continue
            print(f"| {step} | {t['clean_metric'][i]:.3f} | {t['corrupted_metric'][i]:.3f} | "
                  f"{t['size'][i]:.0f} | {t['size_fraction'][i]:.3f} | "
                  f"{t['faithfulness'][i]:.3f} | {t['jaccard_final'][i]:.2f} | "
                  f"{t['weighted_final'][i]:.2f} |")
        print(f"roles at the last checkpoint: {t['last_roles']}")
        print(f"role swaps: {t['role_swaps'] or 'none'}")


def main() -> None:
    """Sweep, detect, print and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="default")
    parser.add_argument("--root", default=None)
    parser.add_argument("--models", default="l", help="comma-separated sizes (s, m, l)")
    parser.add_argument("--stores", default="out/organism-circuits")
    parser.add_argument("--steps", default=None, help="step selection (default: all)")
    parser.add_argument("--probe-config", action="append", default=[])
    parser.add_argument("--every", type=int, default=4, help="print every n-th checkpoint")
    parser.add_argument("--out", default=None, help="save the summaries as JSON")
    args = parser.parse_args()
    suite = train_suite(args.suite, args.root, progress=False)
    probes = build_probes("circuits,induction,successor_heads", args.probe_config)
    sizes = set(args.models.split(","))
    summaries = []
    for model in [m for m in suite.models if m.size in sizes]:
        path = Path(args.stores) / f"{short_series(model.repo_id)}.h5"
        started = time.perf_counter()
        report = sweep(model.open(), path, probes, steps=args.steps, progress=False)
        seconds = time.perf_counter() - started
        n_steps = len(SeriesStore(path).steps)
        print(f"{model.repo_id}: {len(report.computed)} results in {seconds:.0f}s "
              f"({seconds / max(n_steps, 1):.1f}s per checkpoint, 3 probes) -> {path}")
        summary = summarise(SeriesStore(path)) | {"sweep_seconds": seconds}
        print_summary(summary, args.every)
        summaries.append(summary)
    if args.out:
        Path(args.out).write_text(json.dumps(summaries, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
