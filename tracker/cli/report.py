"""``tracker plot``, ``tracker report`` and ``tracker log-wandb``: views of series stores."""

from __future__ import annotations

import argparse
from typing import Any

from tracker.errors import TrackerError


def register(sub: Any) -> None:
    """Add the plotting, report and W&B commands."""
    plot = sub.add_parser("plot", help="draw metric curves, head heatmaps and the emergence "
                                       "timeline of one or more stores")
    plot.add_argument("stores", nargs="+", metavar="STORE", help="series store(s) (.h5)")
    _common(plot)
    plot.add_argument("--format", default="png", choices=("png", "pdf", "svg"),
                      help="file format (pdf/svg for papers; default png)")
    plot.set_defaults(func=run_plot)

    report = sub.add_parser("report", help="write a self-contained HTML report (DIR/index.html)")
    report.add_argument("stores", nargs="+", metavar="STORE", help="series store(s) (.h5)")
    _common(report)
    report.add_argument("--title", help="page title (default: the series names)")
    report.set_defaults(func=run_report)

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


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--metric", action="append", metavar="NAME",
                        help="metric to plot, NAME or PROBE/NAME, repeatable (default: all)")
    parser.add_argument("--panels", type=int, default=8,
                        help="checkpoints per layer x head small-multiples figure (default 8)")


def _check_panels(args: argparse.Namespace) -> None:
    if args.panels < 1:
        raise TrackerError(f"--panels {args.panels}: must be at least 1")


def run_plot(args: argparse.Namespace) -> int:
    """Write one file per figure into the output folder and list them."""
    from tracker.report import write_plots

    _check_panels(args)
    written = write_plots(args.stores, args.out, args.metric, args.format,
                          n_panels=args.panels)
    for path in written:
        print(path)
    print(f"{len(written)} figures in {args.out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Write the HTML report and print its path."""
    from tracker.report import write_report

    _check_panels(args)
    print(write_report(args.stores, args.out, args.metric, n_panels=args.panels,
                       title=args.title))
    return 0


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
