"""``tracker detect`` and ``tracker timeline``: events in stores and their alignment."""

from __future__ import annotations

import argparse
from typing import Any

from tracker.errors import TrackerError


def register(sub: Any) -> None:
    """Add the detection and timeline commands."""
    detect = sub.add_parser("detect", help="find emergence events and phase transitions")
    detect.add_argument("stores", nargs="*", metavar="STORE")
    detect.add_argument("--csv", metavar="FILE",
                        help="tidy CSV (series, step, metric, value; optional tokens, layer, "
                             "head, probe, resolution, threshold, higher_is_better)")
    detect.add_argument("--out", metavar="EVENTS_CSV", help="with --csv: write events here")
    detect.add_argument("--axis", default="log_step", choices=["log_step", "tokens", "index"])
    detect.add_argument("--window", type=float, default=0.25,
                        help="decades of step within which changes form a phase transition "
                             "and a fade and a rise a handover")
    detect.set_defaults(func=run_detect)

    line = sub.add_parser("timeline", help="emergence timeline across stores")
    line.add_argument("stores", nargs="+", metavar="STORE")
    line.set_defaults(func=run_timeline)


def run_detect(args: argparse.Namespace) -> int:
    """Detect events in each store, store them, print a summary and the scale table."""
    from tracker.events import DetectOptions, detect_csv, detect_stores
    from tracker.labels import format_tokens

    options = DetectOptions(axis=args.axis, window=args.window)
    if args.csv:
        if args.stores:
            raise TrackerError("give either STORE files or --csv FILE, not both")
        frame = detect_csv(args.csv, options)
        if args.out:
            frame.to_csv(args.out, index=False)
            print(f"{len(frame)} events -> {args.out}")
        else:
            print(frame.to_csv(index=False), end="")
        return 0
    if not args.stores:
        raise TrackerError("give STORE files or --csv FILE")
    found, table = detect_stores(args.stores, options)
    for store in found:
        counts = store.frame["kind"].value_counts().to_dict()
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no events"
        print(f"{store.series_id}: {summary}  -> {store.path}")
    if len(args.stores) > 1 and not table.empty:
        print("\nmechanism onsets across series (first head to emerge):")
        for row in table.itertuples():
            flag = "  handover" if row.handover else ""
            print(f"  {row.metric:<24} {row.series:<28} onset {format_tokens(row.onset_tokens):>8} "
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
    from tracker.labels import format_tokens
    from tracker.store import SeriesStore

    order = [SeriesStore(p).series_id for p in args.stores]
    events = _load_events(args.stores)
    if events.empty:
        raise TrackerError("no events stored; run `tracker detect STORE...` first")
    wide = timeline(events, order)
    width = max([len(m) for m in wide.index] + [9])
    print("mechanism".ljust(width) + "".join(f"  {s[-22:]:>22}" for s in order))
    for metric, row in wide.iterrows():
        print(metric.ljust(width) + "".join(f"  {format_tokens(row[s]):>22}" for s in order))
    return 0
