"""``tracker query``: ask a store which heads are a kind, when a head became one, what changed."""

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
