"""``tracker query``: heads of a kind, when one became it, what changed, circuit order, widths."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``query`` command and its questions."""
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
    order = qsub.add_parser("order", help="order in which each induction head's circuit "
                            "parts formed (previous-token partner, K-composition, stripe, copying)")
    order.add_argument("stores", nargs="+")
    order.add_argument("--parts", action="store_true",
                       help="one row per part, with its width and abrupt/gradual character")
    order.set_defaults(func=run_order)
    widths = qsub.add_parser("widths", help="10-90%% widths and abrupt/gradual counts of the "
                             "stored emergence and fade events")
    widths.add_argument("stores", nargs="+")
    widths.set_defaults(func=run_widths)


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


def run_order(args: argparse.Namespace) -> int:
    """Print the induction circuit's formation order."""
    from tracker.query import circuit_order
    from tracker.store import SeriesStore

    frame = circuit_order([SeriesStore(p) for p in args.stores], parts=args.parts)
    _print_frame(frame, "no induction head with a previous-token partner (the stores need the "
                 "induction, composition and copying probes)")
    return 0


def run_widths(args: argparse.Namespace) -> int:
    """Print the widths of the stored transitions."""
    from tracker.query import transition_widths
    from tracker.store import SeriesStore

    frame = transition_widths([SeriesStore(p) for p in args.stores])
    _print_frame(frame, "no emergence or fade events with widths (run tracker detect)")
    return 0
