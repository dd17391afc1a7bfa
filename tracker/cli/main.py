"""``tracker`` entry point: every sub-command registers itself from its own module.

A command module exposes ``register(subparsers)`` which adds a parser whose defaults set
``func`` to a callable taking the parsed args and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tracker import __version__
from tracker.errors import TrackerError

#: Modules that add sub-commands, in help order.
COMMAND_MODULES = (
    "tracker.cli.sweep",
    "tracker.cli.scheduled",
    "tracker.cli.inspect",
    "tracker.organisms.cli",
    "tracker.cli.detect",
    "tracker.cli.llc",
    "tracker.cli.query",
    "tracker.cli.report",
    "tracker.cli.log_wandb",
    "tracker.cli.demo",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="tracker", description="Training-dynamics checkpoint tracker."
    )
    parser.add_argument("--version", action="version", version=f"tracker {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if name == missing or name.startswith(missing + "."):
                # An optional command whose package is absent; the others still work.
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors print one line to stderr and exit non-zero."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TrackerError as exc:
        print(f"tracker: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tracker: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
