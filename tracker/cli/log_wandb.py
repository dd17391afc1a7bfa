"""``tracker log-wandb``: replay series stores into Weights & Biases."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``log-wandb`` command."""
    wandb = sub.add_parser("log-wandb", help="replay stores into Weights & Biases, one run per "
                                             "series")
    wandb.add_argument("stores", nargs="+", metavar="STORE", help="series store(s) (.h5)")
    wandb.add_argument("--project", default="tracker", help="W&B project (default: tracker)")
    wandb.add_argument("--group", help="W&B group (default: the model family, e.g. pythia)")
    wandb.add_argument("--mode", choices=("online", "offline", "disabled"),
                       help="W&B mode (default: wandb's own, e.g. WANDB_MODE)")
    wandb.add_argument("--dir", help="folder for W&B's local run files")
    wandb.add_argument("--no-heatmaps", action="store_true",
                       help="skip the per-checkpoint layer x head heatmap images")
    wandb.add_argument("--no-artifact", action="store_true",
                       help="do not attach the store file as an artifact")
    wandb.set_defaults(func=run_log_wandb)


def run_log_wandb(args: argparse.Namespace) -> int:
    """Replay each store into its own W&B run, in step order."""
    from tracker.labels import default_group
    from tracker.store import SeriesStore
    from tracker.wandb_logging import import_wandb, log_store

    import_wandb()  # a missing wandb is reported before any store is read
    series = [SeriesStore(path).series_id for path in args.stores]
    # One group for the whole sweep over sizes, so W&B shows the series side by side.
    group = args.group or default_group(series)
    for path, sid in zip(args.stores, series, strict=True):
        logger = log_store(path, project=args.project, group=group, mode=args.mode,
                           dir=args.dir, heatmaps=not args.no_heatmaps,
                           artifact=not args.no_artifact)
        where = f" ({logger.run_dir})" if logger.run_dir else ""
        print(f"{sid}: logged {len(logger.logged_steps)} steps to W&B run "
              f"{logger.run.id} in {args.project}/{group}{where}")
    if args.mode == "offline":
        print("offline runs: upload later with `wandb sync <run folder>`")
    return 0
