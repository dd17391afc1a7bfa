"""``tracker sweep``: run probes over a checkpoint series into a store."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tracker.errors import TrackerError


def register(sub: Any) -> None:
    """Add the ``sweep`` command."""
    from tracker.runner.watch import IDLE_TIMEOUT, POLL_SECONDS

    parser = sub.add_parser("sweep", help="run probes over a checkpoint series into a store, "
                                          "or run a sweep config (CONFIG.toml)")
    parser.add_argument("series", help="hub repo id (EleutherAI/pythia-70m), a local folder, "
                                       "or a sweep config file (.toml; see tracker status)")
    parser.add_argument("--store", help="path of the series store (.h5); required unless "
                                        "SERIES is a config")
    parser.add_argument("--cache-dir", help="Hugging Face cache root (implies offline loading)")
    parser.add_argument("--online", action="store_true",
                        help="list and download revisions from the hub even with --cache-dir")
    parser.add_argument("--steps", help="all | 0,512,1000 | A:B[:K] | every:K | log:N | first:N")
    parser.add_argument("--probes", help="comma-separated probe names (default: all but llc, "
                        "which is slow and run by name)")
    parser.add_argument("--probe-config", action="append", default=[], metavar="PROBE.FIELD=VALUE",
                        help="override a probe config field (JSON value), repeatable")
    parser.add_argument("--text-dataset", metavar="PATH",
                        help="text for the icl and llc probes: a saved datasets folder or a "
                             ".txt/.jsonl/.parquet/.csv file (without it, a default sweep skips "
                             "icl)")
    parser.add_argument("--tokens-per-step", type=int, help="override tokens per step")
    parser.add_argument("--pattern", help="glob of checkpoint folders inside a local folder")
    parser.add_argument("--revisions", metavar="REGEX",
                        help="regex of a hub repo's checkpoint revisions, with groups (?P<step>) "
                             "and optionally (?P<tokens>) such as 84B (default: the repo's "
                             "suite: step{N}, step{N}-tokens{M}B, stage1-step{N}-tokens{M}B, "
                             "checkpoint-{N}, ckpt_{N})")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--wandb", action="store_true", help="log to W&B as the sweep goes")
    parser.add_argument("--wandb-project", default="tracker")
    parser.add_argument("--wandb-group", help="W&B group (default: derived from the series)")
    parser.add_argument("--wandb-dir", help="folder for W&B run files (default: WANDB_DIR or .)")
    parser.add_argument("--wandb-mode", choices=["online", "offline", "disabled"],
                        help="W&B mode (default: WANDB_MODE or online)")
    parser.add_argument("--watch", action="store_true",
                        help="keep polling for new checkpoints of a run that is still training")
    parser.add_argument("--poll", type=float, default=POLL_SECONDS,
                        help="seconds between polls (--watch; default %(default)g)")
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT,
                        help="stop watching after this many seconds without a new checkpoint "
                             "(default %(default)g)")
    parser.set_defaults(func=run)


def parse_probe_configs(items: list[str]) -> dict[str, dict[str, Any]]:
    """Parse ``probe.field=value`` overrides (value read as JSON, else as a string)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, sep, raw = item.partition("=")
        probe, dot, field = target.partition(".")
        if not sep or not dot or not probe or not field:
            raise TrackerError(f"--probe-config {item!r}: expected PROBE.FIELD=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(probe, {})[field] = value
    return out


def build_probes(names: str | None, overrides: list[str],
                 text_dataset: str | None = None) -> list[Any]:
    """Instantiate the named probes with config overrides, with errors naming the field.

    ``text_dataset`` (a path) goes to every probe that reads running text (each probe knows how,
    see ``Probe.with_text``). A default sweep (no names) leaves out probes whose data cannot be
    found, with a note.
    """
    from pathlib import Path

    from tracker.probes import make_probes, probe_class

    chosen = [n.strip() for n in names.split(",") if n.strip()] if names else None
    configs = parse_probe_configs(overrides)
    for probe, fields in configs.items():
        known = probe_class(probe).Config.__dataclass_fields__
        for field in fields:
            if field not in known:
                raise TrackerError(f"--probe-config: probe {probe!r} has no field {field!r}")
    probes = make_probes(chosen, **configs)
    if text_dataset is not None:
        path = Path(text_dataset)
        if not path.exists():
            raise TrackerError(f"--text-dataset {text_dataset}: no such file or folder")
        probes = [p.with_text(path) for p in probes]
    if chosen is None:
        for lacking in [p for p in probes if not p.has_data()]:
            print(f"note: {lacking.name} skipped ({lacking.lacking_note()})")
            probes.remove(lacking)
    return probes


def is_config(spec: str) -> bool:
    """Whether a SERIES argument names a sweep config file rather than a series."""
    from pathlib import Path

    return spec.endswith(".toml") and not Path(spec).is_dir()


def run(args: argparse.Namespace) -> int:
    """Run the sweep and print a summary."""
    if is_config(args.series):
        from tracker.cli.scheduled import run_config_command

        return run_config_command(args)
    if not args.store:
        raise TrackerError("sweep: --store is required (or give a sweep config .toml)")
    from tracker.runner import sweep, watch
    from tracker.sources import open_series
    from tracker.sources.loading import parse_dtype

    probes = build_probes(args.probes, args.probe_config, args.text_dataset)
    series = open_series(
        args.series,
        cache_dir=args.cache_dir,
        local_files_only=False if args.online else None,
        tokens_per_step=args.tokens_per_step,
        pattern=args.pattern,
        revisions=args.revisions,
    )
    on_step = finish = None
    if args.wandb:
        from tracker.wandb_logging import make_wandb_step_logger

        on_step, finish = make_wandb_step_logger(series, args.store, project=args.wandb_project,
                                                 group=args.wandb_group, mode=args.wandb_mode,
                                                 dir=args.wandb_dir, probes=probes)
    options = dict(steps=args.steps, device=args.device, dtype=parse_dtype(args.dtype),
                   batch_size=args.batch_size, progress=not args.no_progress, on_step=on_step)
    try:
        if args.watch:
            report = watch(series, args.store, probes, poll_seconds=args.poll,
                           idle_timeout=args.idle_timeout, **options)
        else:
            report = sweep(series, args.store, probes, **options)
    except BaseException:
        if finish is not None:
            finish(exit_code=1)
        raise
    if finish is not None:
        finish()
    steps_done = sorted({s for s, _ in report.computed})
    print(f"{series.series_id}: computed {len(report.computed)} probe results at "
          f"{len(steps_done)} steps ({report.loads} checkpoint loads), "
          f"{len(report.skipped_steps)} steps already stored, {report.seconds:.1f}s")
    for earlier, later in report.repeated_weights:
        print(f"warning: step {later} has the same weights as step {earlier}")
    print(f"store: {report.store_path}")
    return 0
