"""The report's LLC block: one per series with the ``llc`` probe, and one row each across series.

Both are empty for stores without the probe, so such reports are unchanged. The figure is
:func:`tracker.views.llc.llc_figure` (W&B logs the same one).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
import pandas as pd

from tracker.labels import format_tokens, short_series, slug
from tracker.report.figures import Plot
from tracker.report.fragments import figure_html, num, table_html
from tracker.store import SeriesStore
from tracker.views.llc import LLCSeries, has_llc, llc_figure, llc_series, stage_table

GUIDE = ("Local learning coefficient per checkpoint (SGLD through devinterp; the band is the "
         "spread over chains). Stage boundaries sit at critical points of the curve smoothed "
         "over log-step (peaks, troughs, plateau middles), after Hoogland et al. (2024); below "
         "the curve, the first detected emergence of every other probe (bar: onset to end).")


def llc_facts(view: LLCSeries) -> str:
    """Say how many checkpoints were measured and settled, the LLC's range, and the stages."""
    measured = view.measured
    if not measured.any():
        return "The LLC probe measured no checkpoint."
    settled = int(np.nansum(view.settled[measured] == 1))
    peak = int(np.nanargmax(np.where(measured, view.llc, -np.inf)))
    last = int(np.flatnonzero(measured)[-1])
    text = (f"Measured at {int(measured.sum())} checkpoints, {settled} with a settled trace. "
            f"The LLC peaks at {num(view.llc[peak])} at step {int(view.steps[peak]):,} "
            f"({format_tokens(view.tokens[peak])} tokens) and ends at {num(view.llc[last])} "
            f"± {num(view.llc_std[last], 2)}.")
    if not len(view.stages):
        return text + " No stage boundary was found (run <code>tracker detect</code>)."
    steps = ", ".join(f"{s:,.0f}" for s in view.stages["midpoint_step"])
    if len(view.stages) == 1:
        return text + f" 1 stage boundary, at step {steps}."
    return text + f" {len(view.stages)} stage boundaries, at steps {steps}."


def llc_section(store: SeriesStore, events: pd.DataFrame | None = None) -> str:
    """Render the "LLC and stages" block of one series ('' without the LLC probe)."""
    if not has_llc(store):
        return ""
    view = llc_series(store, events)
    plot = Plot(f"{slug(store.series_id)}_llc", "LLC and developmental stages",
                "Purple lines: stage boundaries; hollow red: trace not settled.",
                llc_figure(view), store.series_id)
    table = (table_html(["boundary step", "tokens", "shape", "LLC change",
                         "nearest other event"], stage_table(view), "compact")
             if len(view.stages) else "")
    return (f"<div class='llc' id='{slug(store.series_id)}-llc'><h3>LLC and stages</h3>"
            f"<p class='muted'>{escape(GUIDE)}</p><p>{llc_facts(view)}</p>{table}"
            f"<div class='figs'>{figure_html(plot)}</div></div>")


def llc_overview(stores: Sequence[SeriesStore], events: pd.DataFrame | None = None) -> str:
    """Render one row per series with the LLC: final LLC and its stage boundaries ('' if none)."""
    rows = []
    for store in stores:
        if not has_llc(store):
            continue
        view = llc_series(store, events)
        last = int(np.flatnonzero(view.measured)[-1])
        bounds = ", ".join(f"{s:,.0f} ({e})" for s, e in
                           zip(view.stages["midpoint_step"], view.stages["evidence"],
                               strict=True)) or "–"
        rows.append([f"<a href='#{slug(store.series_id)}-llc'>"
                     f"{escape(short_series(store.series_id))}</a>",
                     f"{num(view.llc[last])} ± {num(view.llc_std[last], 2)}", escape(bounds)])
    if not rows:
        return ""
    return ("<div class='llc'><h3>LLC stages</h3>"
            + table_html(["series", "final LLC", "stage boundaries (step, shape)"], rows,
                         "compact") + "</div>")
