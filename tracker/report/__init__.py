"""Plots and a self-contained HTML report, read from series stores.

Importing this package needs neither matplotlib nor wandb: matplotlib is imported when a
figure is drawn.
"""

from tracker.events import EVENT_COLUMNS, read_events_for, read_store_events
from tracker.labels import format_tokens
from tracker.report.figures import make_plots, open_stores, write_plots
from tracker.report.html import render_report, write_report
from tracker.views.metrics import MetricSlice, step_aggregates

__all__ = [
    "EVENT_COLUMNS",
    "MetricSlice",
    "format_tokens",
    "make_plots",
    "open_stores",
    "read_events_for",
    "read_store_events",
    "render_report",
    "step_aggregates",
    "write_plots",
    "write_report",
]
