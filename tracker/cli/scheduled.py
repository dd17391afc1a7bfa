"""``tracker sweep CONFIG`` and ``tracker status CONFIG``: scheduled sweeps from a config file."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add the ``status`` command (``sweep CONFIG`` is dispatched by ``tracker sweep``)."""
    parser = sub.add_parser("status", help="per series of a sweep config: done, pending, "
                                           "failed, last run, throughput, next run")
    parser.add_argument("config", help="sweep config file (.toml)")
    parser.set_defaults(func=run_status)


def run_config_command(args: argparse.Namespace) -> int:
    """Run one scheduled sweep of a config; print one line per series (and per error).

    Returns 1 when a checkpoint or a series failed (the others are done and stored); a
    series another sweep is busy with is not a failure, so overlapping cron runs exit 0.
    """
    from tracker.runner.config import load_config
    from tracker.runner.scheduled import run_config

    config = load_config(args.series)
    publish = None
    if config.wandb.enabled:
        from tracker.wandb_logging.scheduled import make_publisher

        publish = make_publisher(config.wandb, config.probe_set().build())
    results = run_config(config, publish=publish)
    failed = False
    for result in results:
        if result.busy:
            print(f"{result.name}: skipped, {result.busy}")
            continue
        parts = [f"computed {len(result.computed)} checkpoint(s)",
                 f"{result.done_before} already done"]
        if result.failed:
            parts.append(f"{len(result.failed)} failed")
        if result.incomplete:
            parts.append(f"{len(result.incomplete)} still being written (skipped)")
        if result.evicted_bytes:
            parts.append(f"evicted {result.evicted_bytes / 2**20:.1f} MiB from the cache")
        if result.published:
            parts.append(f"{result.published} step(s) logged to W&B")
        print(f"{result.name}: {', '.join(parts)}, {result.seconds:.1f}s -> {result.store}")
        for note in result.notes:
            print(f"  {note}")
        for probe, steps in sorted(result.all_nan.items()):
            print(f"  warning: probe {probe!r} returned metrics that are all NaN at step(s) "
                  f"{', '.join(str(s) for s in sorted(steps))} (nothing measurable?)")
        for earlier, later in result.repeated:
            print(f"  warning: step {later} has the same weights as step {earlier}")
        for step, error in sorted(result.failed.items()):
            for line in error.splitlines():
                print(f"tracker: error: {result.name} step {step}: {_strip(line, step)}",
                      file=sys.stderr)
        if result.error:
            print(f"tracker: error: {result.name}: {result.error}", file=sys.stderr)
        failed = failed or bool(result.failed or result.error)
    return 1 if failed else 0


def _strip(line: str, step: int) -> str:
    """Drop a leading ``step N:`` the error already carries (it is printed once)."""
    prefix = f"step {step}: "
    return line[len(prefix):] if line.startswith(prefix) else line


def run_status(args: argparse.Namespace) -> int:
    """Print the status of every series of a config."""
    from tracker.runner.config import load_config
    from tracker.runner.status import config_status, format_status

    for status in config_status(load_config(args.config)):
        print("\n".join(format_status(status)))
    return 0
