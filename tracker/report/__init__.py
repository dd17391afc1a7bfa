"""Plots and a self-contained HTML report, read from series stores.

Importing this package needs neither matplotlib nor wandb: matplotlib is imported when a
figure is drawn.
"""

from tracker.report.figures import make_plots, open_stores, write_plots
from tracker.report.html import render_report, write_report

__all__ = [
    "make_plots",
    "open_stores",
    "render_report",
    "write_plots",
    "write_report",
]
