"""``tracker detect``, ``tracker timeline`` and ``tracker query``."""

from __future__ import annotations

import argparse
from typing import Any

from tracker.errors import TrackerError


def register(sub: Any) -> None:
    """Add the detection and query commands."""
    detect = sub.add_parser("detect", help="find emergence events and phase transitions")
    detect.add_argument("stores", nargs="+", metavar="STORE")
    detect.add_argument("--detector", help="emergence detector (default: sigmoid)")
    detect.add_argument("--change-detector", help="change-point detector for phase transitions")
    detect.add_argument("--axis", default="log_step", choices=["log_step", "tokens", "index"])
    detect.add_argument("--window", type=float, default=0.25,
                        help="coincidence window on the axis for phase transitions")
    detect.set_defaults(func=run_detect)

    line = sub.add_parser("timeline", help="emergence timeline across stores")
    line.add_argument("stores", nargs="+", metavar="STORE")
    line.set_defaults(func=run_timeline)

    query = sub.add_parser("query", help="ask a store a question")
    qsub = query.add_subparsers(dest="question", metavar="QUESTION", required=True)
    heads = qsub.add_parser("heads", help="which heads are KIND at step S")
    heads.add_argument("store")
    heads.add_argument("--kind", required=True, help="induction, prev_token, successor, ...")
    heads.add_argument("--step", type=int, required=True)
    heads.add_argument("--threshold", type=float)
    heads.set_defaults(func=run_heads)
    when = qsub.add_parser("when", help="when did head LxHy become KIND")
    when.add_argument("store")
    when.add_argument("--kind", required=True)
    when.add_argument("--head", required=True, help="e.g. L1H3")
    when.add_argument("--threshold", type=float)
    when.set_defaults(func=run_when)
    changed = qsub.add_parser("changed", help="what changed between steps A and B")
    changed.add_argument("store")
    changed.add_argument("--from", dest="step_a", type=int, required=True)
    changed.add_argument("--to", dest="step_b", type=int, required=True)
    changed.add_argument("--min-change", type=float, default=0.1)
    changed.add_argument("--limit", type=int, default=30)
    changed.set_defaults(func=run_changed)


def _fmt_tokens(value: float) -> str:
    if value != value:  # NaN
        return "-"
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.0f}"


def run_detect(args: argparse.Namespace) -> int:
    """Detect events in each store, store them, print a summary and the scale table."""
    import pandas as pd

    from tracker.events import DetectOptions, EventFinder, events_frame, scale_table, write_events
    from tracker.store import SeriesStore

    finder = EventFinder(DetectOptions(args.detector, args.change_detector, args.axis,
                                       args.window))
    frames = []
    for path in args.stores:
        store = SeriesStore(path)
        events = finder.find(store)
        meta = {"emergence_detector": f"{finder.emergence.name}:{finder.emergence.key}",
                "change_detector": f"{finder.changes.name}:{finder.changes.key}",
                "axis": args.axis, "window": args.window}
        write_events(path, events, meta)
        frame = events_frame(events)
        frames.append(frame)
        counts = frame["kind"].value_counts().to_dict()
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no events"
        print(f"{store.series_id}: {summary}  -> {path}")
    table = scale_table(pd.concat(frames, ignore_index=True))
    if len(args.stores) > 1 and not table.empty:
        print("\nmechanism onsets across series (first head to emerge):")
        for row in table.itertuples():
            flag = "  handover" if row.handover else ""
            print(f"  {row.metric:<24} {row.series:<28} onset {_fmt_tokens(row.onset_tokens):>8} "
                  f"tokens  {row.head_label:<6} ({row.n_heads} heads)  "
                  f"spread {row.spread_decades:.2f} dec{flag}")
    return 0


def _load_events(paths: list[str]) -> Any:
    import pandas as pd

    from tracker.events import read_events

    frames = []
    for path in paths:
        frame = read_events(path)
        if frame.attrs.get("stale"):
            print(f"warning: {path}: events predate the stored steps; run tracker detect again")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def run_timeline(args: argparse.Namespace) -> int:
    """Print one row per mechanism with onset tokens per series, sorted by time."""
    from tracker.events import timeline
    from tracker.store import SeriesStore

    order = [SeriesStore(p).series_id for p in args.stores]
    events = _load_events(args.stores)
    if events.empty:
        raise TrackerError("no events stored; run `tracker detect STORE...` first")
    wide = timeline(events, order)
    width = max([len(m) for m in wide.index] + [9])
    print("mechanism".ljust(width) + "".join(f"  {s[-22:]:>22}" for s in order))
    for metric, row in wide.iterrows():
        print(metric.ljust(width) + "".join(f"  {_fmt_tokens(row[s]):>22}" for s in order))
    return 0


def _print_frame(frame: Any, empty: str) -> None:
    import pandas as pd

    if frame.empty:
        print(empty)
        return
    with pd.option_context("display.max_rows", 200, "display.width", 160):
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def run_heads(args: argparse.Namespace) -> int:
    """Print the heads over threshold at a step."""
    from tracker.query import heads_at_step
    from tracker.store import SeriesStore

    frame = heads_at_step(SeriesStore(args.store), args.kind, args.step, args.threshold)
    _print_frame(frame, f"no {args.kind} heads at step {args.step}")
    return 0


def run_when(args: argparse.Namespace) -> int:
    """Print when a head became a kind."""
    from tracker.query import when_became
    from tracker.store import SeriesStore

    _print_frame(when_became(SeriesStore(args.store), args.kind, args.head, args.threshold), "")
    return 0


def run_changed(args: argparse.Namespace) -> int:
    """Print the largest changes between two steps."""
    from tracker.query import changes_between
    from tracker.store import SeriesStore

    frame = changes_between(SeriesStore(args.store), args.step_a, args.step_b, args.min_change)
    _print_frame(frame.head(args.limit), "no changes above --min-change")
    return 0
