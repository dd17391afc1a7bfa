"""``tracker demo``: the whole job on the embedded model-organism suite.

Model by model, smallest first: train (or reuse) it, sweep it with every probe, detect events
and rewrite the HTML report with the models done so far; then print the emergence timeline.
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
    """Run the demo end to end, smallest model first; print where the report is.

    Each model is trained, swept and added to the report before the next one trains, so the
    first report is readable minutes after starting and is rewritten as each model lands.
    """
    from tracker.cli.report import default_workers
    from tracker.events import detect_stores
    from tracker.labels import format_tokens, short_series
    from tracker.organisms.api import suite_info
    from tracker.report import write_report

    started = time.perf_counter()
    out = Path(args.out)
    info = suite_info(args.suite, args.root)
    # Smallest first (by weights in the blocks), so the first report comes soonest.
    order = sorted(info.models, key=lambda m: m.n_layers * m.d_model ** 2)
    print(f"organism suite {args.suite!r}: {len(order)} models, smallest first; the report is "
          f"rewritten as each one is trained and swept")
    stores: list[Path] = []
    found: list[Any] = []  # events of the stores detected so far
    changed: set[Path] = set()  # stores written to since their events were found
    table: Any = None
    page = out / "report"

    def write(k: int) -> None:
        nonlocal found, table, page
        print(f"[{k}/{len(order)}] detecting events, writing the report")
        clock = time.perf_counter()
        found, table = detect_stores(stores, known=[f for f in found if f.path not in changed])
        changed.clear()
        detected = time.perf_counter()
        page = write_report([str(s) for s in stores], out / "report",
                            title=f"tracker demo: organism suite {args.suite!r}",
                            workers=default_workers())
        print(f"      report with {k} of {len(order)} models at "
              f"{time.perf_counter() - started:.0f}s (detection {detected - clock:.0f}s, "
              f"report {time.perf_counter() - detected:.0f}s): {page.resolve()}")

    for k, model in enumerate(order, 1):
        stores.append(_model_store(args, model.repo_id, out))
        changed.add(stores[-1])
        write(k)
        if k == 1 and args.probes is None:
            # The LLC (#21) costs seconds per checkpoint: the smallest model only, and after
            # its first report so that report comes sooner; the next rewrite shows it.
            clock = time.perf_counter()
            _llc(args, model.repo_id, stores[0])
            changed.add(stores[0])
            print(f"      {model.repo_id}: LLC swept in {time.perf_counter() - clock:.0f}s")
            if len(order) == 1:
                write(k)
    if table is not None and not table.empty:
        print("first emergence of each mechanism (tokens seen, first head):")
        for metric, rows in table.groupby("metric", sort=False):
            cells = ", ".join(f"{short_series(r.series)} {format_tokens(r.onset_tokens)}"
                              f"{' ' + r.head_label if r.head_label else ''}"
                              for r in rows.itertuples())
            print(f"      {metric:<28} {cells}")
    print(f"done in {time.perf_counter() - started:.0f}s")
    print(f"report: {page.resolve()}")
    return 0


def _llc(args: argparse.Namespace, repo_id: str, store: Path) -> None:
    """Sweep one trained model of the suite with the LLC probe into ``store``."""
    from tracker.cli.llc import demo_sweep
    from tracker.organisms.api import train_suite

    suite = train_suite(args.suite, args.root, progress=False, only=[repo_id])  # reused
    model = next(m for m in suite.models if m.repo_id == repo_id)
    demo_sweep(model, store, suite.corpus_dir, args.steps, not args.no_progress)


def _model_store(args: argparse.Namespace, repo_id: str, out: Path) -> Path:
    """Train (or reuse) one model of the suite and sweep it with every probe; its store."""
    from tracker.cli.sweep import build_probes
    from tracker.labels import short_series
    from tracker.organisms.api import train_suite
    from tracker.runner import sweep

    progress = not args.no_progress
    print(f"      {repo_id}: training or reusing")
    clock = time.perf_counter()
    suite = train_suite(args.suite, args.root, progress=progress, only=[repo_id])
    trained = time.perf_counter()
    model = next(m for m in suite.models if m.repo_id == repo_id)
    speed = f", {model.tokens_per_second:,.0f} tokens/s" if model.tokens_per_second else ""
    print(f"      {model.repo_id}: {model.n_layers}L d{model.d_model} H{model.n_heads}, "
          f"{len(model.steps)} checkpoints to step {model.steps[-1]}{speed}")
    text = suite.corpus_dir / "dataset"
    probes = build_probes(args.probes, [], str(text) if text.exists() else None)
    store = out / "stores" / f"{short_series(model.repo_id)}.h5"
    report = sweep(model.open(), store, probes, steps=args.steps, progress=progress)
    print(f"      {model.repo_id}: trained or reused in {trained - clock:.0f}s, swept with "
          f"{len(probes)} probes in {time.perf_counter() - trained:.0f}s, "
          f"{len(report.computed)} results computed, {len(report.skipped_steps)} steps reused "
          f"-> {store}")
    return store
