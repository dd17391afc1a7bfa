"""``tracker demo``: the whole job on the embedded model-organism suite.

Train (or reuse) the suite, sweep every model with every probe, detect events, print the
emergence timeline, and write the HTML report.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add the ``demo`` command."""
    parser = sub.add_parser("demo", help="train/reuse the organism suite, sweep, detect, report")
    parser.add_argument("--suite", default="default",
                        help="organism suite (default, tiny, default-llama, tiny-llama, ...)")
    parser.add_argument("--root",
                        help="organism artifact root (default ~/.cache/tracker/organisms)")
    parser.add_argument("--out", default="out/demo", help="folder for stores and the report")
    parser.add_argument("--probes", help="comma-separated probes (default: all)")
    parser.add_argument("--steps", help="step selection for the sweeps (default: all)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo end to end; print where the report is."""
    from tracker.cli.llc import demo_sweep
    from tracker.cli.sweep import build_probes
    from tracker.events import detect_stores
    from tracker.labels import format_tokens, short_series
    from tracker.organisms.api import train_suite
    from tracker.report import write_report
    from tracker.runner import sweep

    started = time.perf_counter()
    out = Path(args.out)
    progress = not args.no_progress
    print(f"[1/4] organism suite {args.suite!r}: training or reusing")
    suite = train_suite(args.suite, args.root, progress=progress)
    for model in suite.models:
        speed = f", {model.tokens_per_second:,.0f} tokens/s" if model.tokens_per_second else ""
        print(f"      {model.repo_id}: {model.n_layers}L d{model.d_model} H{model.n_heads}, "
              f"{len(model.steps)} checkpoints to step {model.steps[-1]}{speed}")
    text = suite.corpus_dir / "dataset"
    probes = build_probes(args.probes, [], str(text) if text.exists() else None)
    print(f"[2/4] sweeping {len(suite.models)} models with {len(probes)} probes: "
          f"{', '.join(p.name for p in probes)}")
    stores = []
    for model in suite.models:
        store = out / "stores" / f"{short_series(model.repo_id)}.h5"
        report = sweep(model.open(), store, probes, steps=args.steps, progress=progress)
        print(f"      {model.repo_id}: {len(report.computed)} results computed, "
              f"{len(report.skipped_steps)} steps reused -> {store}")
        stores.append(store)
    if args.probes is None:  # the LLC (#21): seconds per checkpoint, so the smallest model only
        demo_sweep(suite, stores, args.steps, progress)
    print("[3/4] detecting events")
    _, table = detect_stores(stores)
    if not table.empty:
        print("      first emergence of each mechanism (tokens seen, first head):")
        for metric, rows in table.groupby("metric", sort=False):
            cells = ", ".join(f"{short_series(r.series)} {format_tokens(r.onset_tokens)}"
                              f"{' ' + r.head_label if r.head_label else ''}"
                              for r in rows.itertuples())
            print(f"      {metric:<28} {cells}")
    print("[4/4] writing the report")
    page = write_report([str(s) for s in stores], out / "report",
                        title=f"tracker demo: organism suite {args.suite!r}")
    print(f"done in {time.perf_counter() - started:.0f}s")
    print(f"report: {page.resolve()}")
    return 0
