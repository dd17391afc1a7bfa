"""The LLC curve read for people: one series' LLC, its stage boundaries and the other events.

The ``llc`` probe (:mod:`tracker.probes.llc`) stores the local learning coefficient per
checkpoint with its spread over SGLD chains and a settled flag; ``tracker detect`` adds
``stage`` events at critical points of the curve (:mod:`tracker.events.stages`).
:func:`llc_series` gathers one series' curve, its stages and the other probes' first
events, and :func:`llc_figure` draws them on one token axis: the report and W&B show the same
figure. This module reads the store and event tables only (it does not import the probe, so
not devinterp or torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tracker.labels import format_tokens, short_series
from tracker.store import SeriesStore
from tracker.views.mpl import new_figure, style, token_formatter

#: Name of the LLC probe in a store.
PROBE = "llc"
STAGE_COLOUR = "#7c3aed"
LLC_COLOUR = "#111827"


@dataclass(frozen=True)
class LLCSeries:
    """One series' LLC curve with its stages and the first emergence of every other probe.

    Attributes:
        series_id: The series.
        steps: Checkpoint steps.
        tokens: Tokens seen at each step.
        llc: LLC per checkpoint (NaN where not measured).
        llc_std: Standard deviation over chains.
        settled: 1 where the trace settled, 0 where not, NaN where not measured.
        stages: ``stage`` events of the series, in step order.
        others: First emergence (by midpoint) of each other probe, in midpoint order.
    """

    series_id: str
    steps: np.ndarray
    tokens: np.ndarray
    llc: np.ndarray
    llc_std: np.ndarray
    settled: np.ndarray
    stages: pd.DataFrame
    others: pd.DataFrame

    @property
    def measured(self) -> np.ndarray:
        """Mask of checkpoints with a finite LLC."""
        return np.isfinite(self.llc)


def has_llc(store: SeriesStore) -> bool:
    """Whether a store holds the LLC probe with a value at some checkpoint."""
    if not any(i.name == "llc" for i in store.metric_infos(PROBE)):
        return False
    return bool(np.isfinite(store.metric(PROBE, "llc")).any())


def mechanism_name(row: Any) -> str:
    """Short name of an event's mechanism: ``probe/metric`` (the metric alone when equal)."""
    probe, metric = str(row.probe or ""), str(row.metric or "")
    return metric if not probe or probe == metric else f"{probe}/{metric}"


def llc_series(store: SeriesStore, events: pd.DataFrame | None = None) -> LLCSeries:
    """Read one series' LLC curve; pick its stages and other probes' emergences from ``events``.

    Args:
        store: A store with the LLC probe (see :func:`has_llc`).
        events: Events of any series (as ``read_events_for`` returns them); None for none.

    Returns:
        The series' curve, stages and first emergence per other probe (phase transitions,
        which join several probes, and fades stay in the event tables).
    """
    sid = store.series_id
    mine = (events[events["series"] == sid] if events is not None and len(events)
            else pd.DataFrame(columns=["kind", "probe", "metric", "midpoint_step"]))
    stages = mine[mine["kind"] == "stage"].sort_values("midpoint_step")
    others = mine[(mine["kind"] == "emergence") & (mine["probe"] != PROBE)]
    others = others[np.isfinite(others["midpoint_step"].astype(float))]
    if len(others):
        # one row per mechanism (probe): its first emergence, whichever metric shows it
        others = (others.sort_values("midpoint_step")
                  .drop_duplicates(["probe"]).reset_index(drop=True))
    return LLCSeries(
        series_id=sid, steps=store.steps, tokens=store.tokens,
        llc=store.metric(PROBE, "llc").astype(float),
        llc_std=store.metric(PROBE, "llc_std").astype(float),
        settled=store.metric(PROBE, "llc_settled").astype(float),
        stages=stages.reset_index(drop=True), others=others,
    )


def stage_table(view: LLCSeries) -> list[list[str]]:
    """Rows (boundary step, tokens, shape, LLC change, nearest other event) for each stage."""
    rows = []
    for stage in view.stages.itertuples():
        near = "–"
        if len(view.others):
            gaps = np.abs(np.log10(view.others["midpoint_step"].to_numpy(float))
                          - np.log10(stage.midpoint_step))
            pick = view.others.iloc[int(np.argmin(gaps))]
            near = (f"{mechanism_name(pick)} at step {pick['midpoint_step']:,.0f} "
                    f"({gaps.min():.2f} decades)")
        rows.append([f"{stage.midpoint_step:,.0f}", format_tokens(stage.midpoint_tokens),
                     str(stage.evidence), f"{stage.magnitude:+.3g}", near])
    return rows


def llc_figure(view: LLCSeries) -> Any:
    """Draw the LLC over tokens (± chain std) with stage boundaries and other events below.

    Top: the LLC per checkpoint (log token axis; step 0 cannot sit on it and is left out),
    hollow where the trace did not settle, and purple lines at the stage boundaries. Bottom:
    one row per other probe, a marker at its first emergence's midpoint and a bar from
    onset to end, under the same boundary lines, so a stage boundary near an emergence reads off
    directly.
    """
    live = (view.tokens > 0) & view.measured
    n_rows = max(1, len(view.others))
    with style():
        fig = new_figure(7.2, 3.0 + 0.22 * n_rows)
        top, bottom = fig.subplots(2, 1, sharex=True,
                                   gridspec_kw={"height_ratios": [3.0, 0.6 + 0.3 * n_rows]})
        x, y, err = view.tokens[live], view.llc[live], view.llc_std[live]
        top.fill_between(x, y - err, y + err, color=LLC_COLOUR, alpha=0.12, lw=0)
        top.plot(x, y, color=LLC_COLOUR, lw=1.3, marker="o", ms=3, label="LLC (± chain std)")
        unsettled = live & (view.settled == 0)
        if unsettled.any():
            top.plot(view.tokens[unsettled], view.llc[unsettled], linestyle="none", marker="o",
                     ms=5, mfc="white", mec="#dc2626", label="trace not settled")
        for ax in (top, bottom):
            for stage in view.stages.itertuples():
                ax.axvline(stage.midpoint_tokens, color=STAGE_COLOUR, lw=1.4, alpha=0.8)
        for stage in view.stages.itertuples():
            top.text(stage.midpoint_tokens, 1.0, f" {stage.evidence}", rotation=90, va="top",
                     ha="left", fontsize=7, color=STAGE_COLOUR,
                     transform=top.get_xaxis_transform())
        top.plot([], [], color=STAGE_COLOUR, lw=1.4, label="stage boundary")
        top.set_ylabel("LLC")
        top.set_title(f"{short_series(view.series_id)}: LLC and developmental stages")
        # on a white card, so curves and boundary lines behind it stay out of the text
        top.legend(loc="best", fontsize=7.5, frameon=True, framealpha=0.92, facecolor="white",
                   edgecolor="none").set_zorder(10)
        labels = []
        for i, row in enumerate(view.others.itertuples()):
            onset = row.onset_tokens if np.isfinite(row.onset_tokens) else row.midpoint_tokens
            end = row.end_tokens if np.isfinite(row.end_tokens) else row.midpoint_tokens
            bottom.plot([max(onset, x.min() if len(x) else onset), end], [i, i],
                        color="#2563eb", lw=2.5, alpha=0.35, solid_capstyle="butt")
            bottom.plot([row.midpoint_tokens], [i], marker="D", ms=4.5, color="#2563eb")
            labels.append(mechanism_name(row))
        bottom.set_yticks(range(len(labels)), labels, fontsize=7)
        bottom.set_ylim(-0.7, n_rows - 0.3)
        bottom.invert_yaxis()
        bottom.grid(False, axis="y")
        if not labels:
            bottom.text(0.5, 0.5, "no other events (run tracker detect)", ha="center",
                        va="center", transform=bottom.transAxes, fontsize=7.5, color="#6b7280")
        bottom.set_xscale("log")
        bottom.xaxis.set_major_formatter(token_formatter())
        bottom.set_xlabel("tokens seen")
    return fig
