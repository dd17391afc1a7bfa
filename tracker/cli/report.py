"""``tracker plot`` and ``tracker report``: figures and pages from series stores."""

from __future__ import annotations

import argparse
from typing import Any

from tracker.errors import TrackerError


def register(sub: Any) -> None:
    """Add the plotting and report commands."""
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
    report.add_argument("--workers", type=int, default=default_workers(),
                        help="processes rendering the figures (default: CPU cores, at most 4)")
    report.set_defaults(func=run_report)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--metric", action="append", metavar="NAME",
                        help="metric to plot, NAME or PROBE/NAME, repeatable (default: all)")
    parser.add_argument("--panels", type=int, default=8,
                        help="checkpoints per layer x head small-multiples figure (default 8)")


def _check_panels(args: argparse.Namespace) -> None:
    if args.panels < 1:
        raise TrackerError(f"--panels {args.panels}: must be at least 1")


def default_workers() -> int:
    """Figure-rendering processes for a report: the CPU cores, at most 4."""
    from tracker.cores import usable_cores

    return min(4, usable_cores())


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
                       title=args.title, workers=args.workers))
    return 0
