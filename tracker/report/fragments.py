"""Small HTML pieces of the report page: tables, numbers, embedded figures."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from tracker.labels import format_tokens
from tracker.report.figures import Plot
from tracker.report.rendering import embed_png


def table_html(headers: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """Render an HTML table; cells are already-escaped HTML."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def num(value: float | None, digits: int = 3) -> str:
    """Format a number to ``digits`` significant digits (an en dash for None, NaN, inf)."""
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}g}"


def when(step: float, tokens: float) -> str:
    """Format a step with its tokens beneath (an en dash when the step is not finite)."""
    if not np.isfinite(step):
        return "–"
    return f"{step:,.0f}<span class='sub'>{format_tokens(tokens)} tok</span>"


def figure_html(plot: Plot) -> str:
    """Embed a figure as a PNG data URI in a ``<figure>`` with its caption; frees the figure."""
    # Shown at 100 CSS px per figure inch whatever the PNG's resolution, so text is the
    # same size in every figure; wide figures shrink to the column.
    width = round(float(plot.figure.get_size_inches()[0]) * 100)
    data = embed_png(plot.figure)
    plot.figure.clear()  # the PNG is all the page keeps; free the figure now
    return (f'<figure id="{escape(plot.name)}" style="max-width:{width + 26}px">'
            f"<figcaption><b>{escape(plot.title)}</b> {escape(plot.caption)}</figcaption>"
            f'<img alt="{escape(plot.title)}" width="{width}" '
            f'src="data:image/png;base64,{data}"></figure>')
