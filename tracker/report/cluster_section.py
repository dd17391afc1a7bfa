"""The report's token-cluster blocks: one per series, and one across series.

Both are empty for stores without the ``clusters`` probe, so such reports are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
import pandas as pd

from tracker.labels import format_tokens, slug
from tracker.report.clusters import across_plot, series_plot
from tracker.report.fragments import figure_html, num
from tracker.store import SeriesStore
from tracker.views.clusters import (
    VERDICTS,
    ClusterSeries,
    cluster_series,
    has_clusters,
    ratio_undefined_reason,
    step_runs,
)

GUIDE = ("Token vectors of the probe's prompts at every layer boundary (0 = embeddings, "
         "l + 1 = after layer l), L2-normalised, BOS left out; see the README's "
         "\"Token clusters\" section for what each measure is.")


def _at(view: ClusterSeries, index: int) -> str:
    return f"step {int(view.steps[index]):,} ({format_tokens(view.tokens[index])} tokens)"


def _verdict(value: float) -> str:
    return VERDICTS.get(int(value), "?") if np.isfinite(value) else "undefined"


def ratio_facts(view: ClusterSeries) -> str:
    """Put the two-timescale ratio in words.

    Undefined at every checkpoint: why; else where it is defined, its last value and verdict.
    """
    reason = ratio_undefined_reason(view)
    if reason is not None:
        return f"The two-timescale ratio is undefined at every checkpoint: {escape(reason)}."
    have = np.flatnonzero(np.isfinite(view.ratio))
    if not len(have):
        return ""
    last = int(have[-1])
    return (f"The two-timescale ratio is defined at {len(have)} of {int(view.measured.sum())} "
            f"checkpoints; at {_at(view, last)} it is {num(view.ratio[last])} (verdict "
            f"{_verdict(view.verdict[last])}).")


def cluster_facts(view: ClusterSeries) -> str:
    """Say where the energy is monotone, when the mass collapses, and the ratio's fate."""
    measured = np.flatnonzero(view.measured)
    if not len(measured):
        return "The cluster probe measured no checkpoint."
    last = int(measured[-1])
    monotone = view.monotone >= 1.0
    possible = len(view.energy) * view.violation_rate.shape[1]
    energy = (f"The energy rises monotonically over layers in every prompt × β curve at "
              f"{int(monotone.sum())} of {len(measured)} checkpoints (steps "
              f"{step_runs(view.steps, monotone)}); at {_at(view, last)} it falls at "
              f"{num(view.violations[last])} of {possible} (β, layer) places per prompt.")
    top = view.mass[:, -1]
    peak = int(np.nanargmax(top)) if np.isfinite(top).any() else last
    mass = (f"The mass near 1 at the last boundary peaks at {num(top[peak], 2)} at "
            f"{_at(view, peak)} and ends at {num(top[last], 2)}, with "
            f"{num(view.clusters_last[last])} HDBSCAN clusters there.")
    return " ".join(part for part in (energy, mass, ratio_facts(view)) if part)


def clusters_section(store: SeriesStore, events: pd.DataFrame | None = None) -> str:
    """Render the "Token clusters" block of one series ('' without the cluster probe)."""
    if not has_clusters(store):
        return ""
    view = cluster_series(store)
    return (f"<div class='clusters' id='{slug(store.series_id)}-clusters'><h3>Token clusters"
            f"</h3><p class='muted'>{escape(GUIDE)}</p><p>{cluster_facts(view)}</p>"
            f"<div class='figs'>{figure_html(series_plot(view, events))}</div></div>")


def clusters_overview(stores: Sequence[SeriesStore], events: pd.DataFrame | None = None
                      ) -> str:
    """Render the across-series token-cluster block ('' when no store has the probe)."""
    views = [cluster_series(s) for s in stores if has_clusters(s)]
    if not views:
        return ""
    return (f"<div class='clusters'><h3>Token clusters</h3>"
            f"<div class='figs'>{figure_html(across_plot(views, events))}</div></div>")
