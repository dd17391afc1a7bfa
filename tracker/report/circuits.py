"""Circuit figures of the report: similarity, size and faithfulness over training, drawings.

Per store with the ``circuits`` probe and per task (:mod:`tracker.views.circuits` reads the
numbers, :mod:`tracker.views.circuit_drawing` draws a circuit), :func:`circuit_plots` yields

* one figure over tokens with four panels: the circuit's Jaccard, weighted Jaccard and node
  Jaccard similarity to the final checkpoint's circuit and to the previous checkpoint's, its
  size (edges; fraction of the graph on the right axis), and its normalised faithfulness
  with the probe's target. Checkpoints without a circuit (the model does not do the task
  yet) are shaded and leave gaps: similarity there is undefined, not 0;
* a drawing of the circuit at a few log-spaced checkpoints where one exists, always the
  last of them.

matplotlib is imported when a figure is drawn, as everywhere in the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np

from tracker.events.circuits import circuit_tasks
from tracker.labels import short_series, slug
from tracker.report.figures import Plot
from tracker.report.plots import SINGLE_COLOURS, LogTokenAxis
from tracker.store import SeriesStore
from tracker.views.circuit_drawing import MAX_EDGES, circuit_figure
from tracker.views.circuits import TaskCircuits, drawing_checkpoints, task_circuits
from tracker.views.mpl import new_figure, style

#: Similarity measures: field suffix -> (legend label, line style, marker); one colour each,
#: the same in both panels. Styles and markers differ so equal curves stay told apart.
MEASURES = {"jaccard": ("Jaccard (edges)", "-", "o"),
            "weighted": ("weighted Jaccard (|score|)", "--", "s"),
            "node": ("node Jaccard (components)", ":", "^")}
NO_CIRCUIT = "#f1f5f9"
#: How to read a drawing, said once per report section rather than under every drawing.
DRAWING_GUIDE = ("Circuit drawings: nodes by layer (input at the bottom, logits on top, each "
                 "layer's MLP right of its heads); dark nodes are in the circuit. Edge width "
                 "and opacity grow with |EAP-IG score| relative to the strongest edge drawn; "
                 "blue edges carry the task (corrupting one lowers the task metric), red ones "
                 "work against it; edges into a head are dashed (query), dotted (key) or solid "
                 "(value).")
DRAWING_CAPTION = "The minimal circuit at this checkpoint (how to read: above)."


def _shade_missing(ax: Any, tokens: np.ndarray, defined: np.ndarray) -> bool:
    """Shade runs of checkpoints without a circuit, out to halfway (in log) to neighbours."""
    live = np.flatnonzero(tokens > 0)
    if not len(live):
        return False
    logs = np.log10(tokens[live].astype(float))
    edges = np.concatenate([[logs[0] - 0.15], (logs[1:] + logs[:-1]) / 2, [logs[-1] + 0.15]])
    shaded = False
    for i, index in enumerate(live):
        if not defined[index]:
            ax.axvspan(10 ** edges[i], 10 ** edges[i + 1], color=NO_CIRCUIT, lw=0, zorder=0)
            shaded = True
    return shaded


def _similarity_panel(ax: Any, xaxis: LogTokenAxis, view: TaskCircuits, to: str) -> None:
    for (measure, (label, line, marker)), colour in zip(MEASURES.items(), SINGLE_COLOURS,
                                                       strict=True):
        values = getattr(view.similarity, f"{measure}_{to}")
        xaxis.plot(ax, view.tokens, values, colour, lw=1.4, linestyle=line, marker=marker,
                   ms=3.5, mfc="white", mew=1.1, label=label)
    ax.set_ylim(-0.03, 1.05)
    ax.set_ylabel("similarity")


def curves_figure(view: TaskCircuits, series: str) -> Any:
    """Similarity to final and previous, size and faithfulness of one task's circuit.

    Args:
        view: The task's circuits (:func:`tracker.views.circuits.task_circuits`).
        series: Series id, for the title.
    """
    from matplotlib.patches import Patch

    with style():
        fig = new_figure(9.6, 6.2)
        axes = fig.subplots(2, 2, sharex=True)
        xaxis = LogTokenAxis([view.tokens])
        shaded = [_shade_missing(ax, view.tokens, view.defined) for ax in axes.flat][0]
        (final, previous), (size, faith) = axes
        _similarity_panel(final, xaxis, view, "final")
        final.set_title("similarity to the final circuit")
        _similarity_panel(previous, xaxis, view, "previous")
        previous.set_title("similarity to the previous checkpoint's circuit")
        xaxis.plot(size, view.tokens, view.size, "#374151", lw=1.5, marker="o", ms=3)
        size.set_title("circuit size")
        size.set_ylabel("edges")
        size.set_ylim(bottom=0)
        n = view.graph.n_edges
        # Picklable scalings (no lambdas), so the figure renders in a report worker.
        right = size.secondary_yaxis("right", functions=(partial(np.multiply, 1.0 / n),
                                                         partial(np.multiply, n)))
        right.set_ylabel("fraction of the graph's edges")
        xaxis.plot(faith, view.tokens, view.faithfulness, "#059669", lw=1.6, marker="o", ms=3,
                   label="faithfulness (circuit − corrupted) / (clean − corrupted)")
        xaxis.plot(faith, view.tokens, view.faithfulness_ratio, "#6b7280", lw=1.0, marker="o",
                   ms=2.5, linestyle="--", label="faithfulness ratio circuit / clean")
        faith.axhline(view.target, color="#6b7280", lw=0.8, linestyle=(0, (1, 2)))
        faith.text(1.0, view.target, f" target {view.target:g}",
                   transform=faith.get_yaxis_transform(), va="center", ha="left", fontsize=7,
                   color="#6b7280", clip_on=False)
        faith.set_title("faithfulness of the minimal circuit")
        faith.set_ylabel("faithfulness")
        both = np.concatenate([view.faithfulness, view.faithfulness_ratio])
        both = both[np.isfinite(both)]
        # The minimal circuit sits just past the target by construction: keep the target
        # off the frame's edge, and 1 (the whole model) in view.
        low = min(view.target - 0.2, float(both.min()) - 0.03) if both.size else 0.0
        high = max(1.02, float(both.max()) + 0.03) if both.size else 1.05
        faith.set_ylim(low, high)
        for ax in axes.flat:
            xaxis.finish(ax)
        for ax in axes[0]:
            ax.set_xlabel("")
        handles = final.get_legend_handles_labels()[0] + faith.get_legend_handles_labels()[0]
        if shaded:
            handles.append(Patch(color=NO_CIRCUIT, label="no circuit (task not done)"))
        fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=7.5)
        fig.suptitle(f"{short_series(series)}: {view.task} circuit over training", x=0.01,
                     ha="left", fontsize=10, fontweight="bold")
    return fig


def task_plots(series: str, view: TaskCircuits, n_drawings: int = 4,
               max_edges: int = MAX_EDGES) -> Iterator[Plot]:
    """Yield one task's figures: its curves, then its drawings; none if it never has a circuit.

    Args:
        series: Series id (figure names and titles).
        view: The task's circuits.
        n_drawings: About how many checkpoints to draw the circuit at.
        max_edges: Circuit edges drawn at most per drawing.
    """
    if not view.defined.any():
        return  # nothing to plot but gaps; the report says so in words
    task, name = view.task, slug(series)
    yield Plot(
        f"{name}_circuit_{slug(task)}_curves", f"{task}: circuit over training",
        "Similarity of each checkpoint's minimal circuit to the final one and to the "
        "previous one (edge Jaccard, |score|-weighted Jaccard, Jaccard of the components "
        "touched), its size, and its faithfulness against the probe's target. Shaded: "
        "no circuit (the model does not do the task there), so no value.",
        curves_figure(view, series), series)
    for index in drawing_checkpoints(view.tokens, view.defined, n_drawings):
        step = int(view.steps[index])
        yield Plot(f"{name}_circuit_{slug(task)}_step{step}", f"{task} circuit at step {step:,}",
                   DRAWING_CAPTION, circuit_figure(view.graph, view.masks[index],
                                                   view.scores[index], view.title(index),
                                                   max_edges), series)


def circuit_plots(store: SeriesStore, n_drawings: int = 4, max_edges: int = MAX_EDGES
                  ) -> Iterator[Plot]:
    """Yield the circuit figures of every task of a store (:func:`task_plots`).

    Nothing for a store without the circuit probe.
    """
    for task in circuit_tasks(store):
        yield from task_plots(store.series_id, task_circuits(store, task), n_drawings,
                              max_edges)
