"""Token-cluster figures of the report: layer x step heatmaps per series, and across series.

Per store with the ``clusters`` probe (:mod:`tracker.views.clusters` reads the numbers),
:func:`cluster_plots` yields one figure over tokens (log axis, step 0 in the init band):

* layer x step heatmaps, one column per checkpoint spanning the training it stands for, one
  row per layer boundary (0 = embeddings, at the bottom): the mass near 1 (share of token
  pairs with cosine above 0.9), the interaction energy E_beta at beta = 1, the HDBSCAN
  cluster count (the probe's deterministic count with no threshold to choose; the
  agglomerative counts at 12 thresholds stay in the store), and per layer the share of
  prompt x beta energy curves that fall there (0: the energy never falls there);
* the energy violations per prompt (± bootstrap error) and, where it is defined at some
  checkpoint, the two-timescale ratio with its verdict levels 1 and 2; undefined everywhere
  (as with rotary models), the panel is left out and the report says why in words.

:func:`across_figure` puts the series side by side: mass near 1 at the last boundary, the
share of energy falls (violations over betas x layers, comparable across depths), the
HDBSCAN count at the last boundary and the largest OV spectral radius. Events the detectors
found on these summaries are marked as on every curve.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tracker.labels import short_series, slug
from tracker.report.figures import Plot
from tracker.report.plots import (
    LogTokenAxis,
    card_legend,
    event_legend_handles,
    mark_events,
    series_colours,
)
from tracker.store import SeriesStore
from tracker.views.clusters import PROBE, ClusterSeries, cluster_series, has_clusters
from tracker.views.heatmap import HEATMAP_CMAP
from tracker.views.mpl import new_figure, plain_formatter, style

NOT_MEASURED = "#e5e7eb"
RATIO_COLOUR = "#7c3aed"
VIOLATION_COLOUR = "#dc2626"


def cluster_events(events: pd.DataFrame | None, series: str, metric: str) -> pd.DataFrame:
    """Select the events of one series on one cluster metric (outliers left out)."""
    if events is None or not len(events):
        return pd.DataFrame(columns=["midpoint_tokens", "onset_tokens"])
    mask = (events["series"] == series) & (events["metric"] == metric)
    mask &= events["probe"].isin([PROBE, ""]) & (events["kind"] != "outlier")
    return events[mask]


def _rows_height(rows: int) -> float:
    """Height in inches of a heatmap of ``rows`` rows.

    Thin rows for deep models, a floor for shallow ones so the title and colour bar fit.
    """
    return max(0.95, 0.3 + 0.1 * rows)


def _heatmap(fig: Any, ax: Any, xaxis: LogTokenAxis, view: ClusterSeries, values: np.ndarray,
             title: str, label: str, norm: Any) -> None:
    from matplotlib import colormaps
    from matplotlib.ticker import MaxNLocator

    cmap = colormaps[HEATMAP_CMAP].with_extremes(bad=NOT_MEASURED)
    mesh = xaxis.heatmap(ax, view.tokens, values, cmap=cmap, norm=norm, rasterized=True)
    ax.set_ylim(-0.5, values.shape[1] - 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.grid(False)
    ax.set_title(title, fontsize=9)
    bar = fig.colorbar(mesh, ax=ax, pad=0.01, aspect=max(4.0, 5 * _rows_height(
        values.shape[1])), fraction=0.04)
    bar.set_label(label, fontsize=7.5)
    bar.ax.tick_params(labelsize=7)
    bar.outline.set_visible(False)


def _norm(values: np.ndarray, floor: float | None = None, ceiling: float | None = None,
          gamma: float = 1.0) -> Any:
    """Make a colour scale over the finite values, optionally pinned at one end.

    ``gamma`` < 1 spreads the low end (a power scale, shown as such by the colour bar).
    """
    from matplotlib.colors import Normalize, PowerNorm

    finite = values[np.isfinite(values)]
    low = floor if floor is not None else float(finite.min()) if finite.size else 0.0
    high = ceiling if ceiling is not None else float(finite.max()) if finite.size else 1.0
    high = high if high > low else low + 1.0
    return Normalize(low, high) if gamma == 1.0 else PowerNorm(gamma, low, high)


def _violations_panel(ax: Any, xaxis: LogTokenAxis, view: ClusterSeries,
                      events: pd.DataFrame | None) -> int:
    xaxis.plot(ax, view.tokens, view.violations, VIOLATION_COLOUR, lw=1.6, marker="o", ms=2.5)
    xaxis.band(ax, view.tokens, view.violations, view.violations_se, VIOLATION_COLOUR)
    possible = len(view.energy) * view.violation_rate.shape[1]
    ax.set_ylim(-0.03 * possible, possible * 1.03)
    ax.set_ylabel("falls per prompt")
    ax.set_title(f"energy violations per prompt (of {possible}: {len(view.energy)} betas × "
                 f"{view.violation_rate.shape[1]} layers)", fontsize=9)
    return mark_events(ax, cluster_events(events, view.series, "energy_violations"),
                       VIOLATION_COLOUR)


def _ratio_panel(ax: Any, xaxis: LogTokenAxis, view: ClusterSeries,
                 events: pd.DataFrame | None) -> int:
    xaxis.plot(ax, view.tokens, view.ratio, RATIO_COLOUR, lw=1.6, marker="o", ms=2.5)
    for level, word in ((1.0, "weak"), (2.0, "confirmed")):
        ax.axhline(level, color="#6b7280", lw=0.8, linestyle=(0, (1, 2)))
        ax.text(1.0, level, f" {word} ≥ {level:g}", transform=ax.get_yaxis_transform(),
                va="center", ha="left", fontsize=7, color="#6b7280", clip_on=False)
    top = np.nanmax(view.ratio)
    ax.set_ylim(0, max(2.5, float(top) * 1.1))
    ax.set_ylabel("ratio")
    undefined = int(np.sum(view.measured & ~np.isfinite(view.ratio)))
    note = f" (undefined at {undefined} checkpoints: gaps)" if undefined else ""
    ax.set_title(f"two-timescale ratio: mean plateau width / collapse onset{note}", fontsize=9)
    return mark_events(ax, cluster_events(events, view.series, "two_timescale_ratio"),
                       RATIO_COLOUR)


def layers_figure(view: ClusterSeries, events: pd.DataFrame | None = None) -> Any:
    """Layer x step heatmaps of one series, with its violations and ratio over training.

    Args:
        view: The series' cluster arrays (:func:`tracker.views.clusters.cluster_series`).
        events: Events to mark on the line panels, or None.
    """
    beta, energy = view.heatmap_energy()
    k = view.n_boundaries
    layers = view.violation_rate.shape[1]
    ratio = bool(np.isfinite(view.ratio).any())
    # Square-root colours for the mass: a brief collapse early in training reaches 0.3-0.8,
    # and on a linear scale the 0.02-0.15 of every later checkpoint would be one colour.
    maps = [(view.mass, "mass near 1 (token pairs with cosine > 0.9; square-root colours)",
             "mass near 1", _norm(view.mass, floor=0.0, gamma=0.5)),
            (energy, f"interaction energy E_β, β = {beta:g}", f"E_{beta:g}", _norm(energy)),
            (view.hdbscan, "HDBSCAN cluster count", "clusters", _norm(view.hdbscan)),
            (view.violation_rate, "share of prompt × β energy curves falling at the layer",
             "share falling", _norm(view.violation_rate, 0.0, 1.0))]
    heights = [_rows_height(k)] * 3 + [_rows_height(layers), 1.5] + ([1.3] if ratio else [])
    with style():
        fig = new_figure(9.6, sum(heights) + 0.9)
        axes = fig.subplots(len(heights), 1, sharex=True,
                            gridspec_kw={"height_ratios": heights})
        xaxis = LogTokenAxis([view.tokens])
        for ax, (values, title, label, norm) in zip(axes, maps, strict=False):
            _heatmap(fig, ax, xaxis, view, values, title, label, norm)
        for ax in axes[:3]:
            ax.set_ylabel("boundary", fontsize=8)
        axes[3].set_ylabel("layer", fontsize=8)
        marked = _violations_panel(axes[4], xaxis, view, events)
        if ratio:
            marked += _ratio_panel(axes[5], xaxis, view, events)
        for ax in axes:
            xaxis.finish(ax)
        for ax in axes[:-1]:
            ax.set_xlabel("")
            for text in [t for t in ax.texts if t.get_text() == "init"]:
                text.remove()  # said once, under the bottom panel
        if marked:
            card_legend(axes[4], handles=event_legend_handles(), loc="upper left", fontsize=7)
        fig.suptitle(f"{short_series(view.series)}: token clusters over layers and training "
                     f"(boundary 0 = embeddings)", x=0.01, ha="left", fontsize=10,
                     fontweight="bold")
    return fig


#: Panels of the across-series figure: (title, y label, value of a series, event metric).
ACROSS = (
    ("mass near 1 at the last boundary", "mass near 1", lambda v: v.mass[:, -1], ""),
    ("share of energy falls (over prompts, betas, layers)", "share",
     lambda v: v.fall_share(), "energy_violations"),
    ("HDBSCAN clusters at the last boundary", "clusters", lambda v: v.clusters_last,
     "clusters_last"),
    ("largest OV spectral radius", "spectral radius (log)", lambda v: v.spectral_radius,
     "ov_spectral_radius_max"),
)


def _log_y(ax: Any) -> None:
    """Log y axis labelled at 1-2-5 steps in plain numbers (radii span one or two decades)."""
    from matplotlib.ticker import LogLocator, NullLocator

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(plain_formatter())
    ax.yaxis.set_minor_locator(NullLocator())


def across_figure(views: Sequence[ClusterSeries], events: pd.DataFrame | None = None) -> Any:
    """Token-cluster summaries over tokens, one line per series (coloured by model size).

    Args:
        views: One per series with the cluster probe.
        events: Events to mark, or None.
    """
    colours = series_colours([v.series for v in views])
    with style():
        fig = new_figure(9.6, 5.6)
        axes = fig.subplots(2, 2, sharex=True)
        xaxis = LogTokenAxis([v.tokens for v in views])
        marked = 0
        for ax, (title, label, value, metric) in zip(axes.flat, ACROSS, strict=True):
            for view in views:
                colour = colours[view.series]
                xaxis.plot(ax, view.tokens, value(view), colour, lw=1.5, marker="o", ms=2,
                           label=short_series(view.series))
                if metric:
                    marked += mark_events(ax, cluster_events(events, view.series, metric),
                                          colour)
            ax.set_title(title, fontsize=9)
            ax.set_ylabel(label)
        axes[0, 0].set_ylim(bottom=0)
        axes[0, 1].set_ylim(-0.02, 1.02)
        _log_y(axes[1, 1])
        for ax in axes.flat:
            xaxis.finish(ax)
        for ax in axes[0]:
            ax.set_xlabel("")
        handles = axes[0, 0].get_legend_handles_labels()[0]
        if marked:
            handles += event_legend_handles()
        fig.legend(handles=handles, loc="outside lower center", ncol=min(7, len(handles)),
                   fontsize=7.5)
        fig.suptitle("Token clusters across series", x=0.01, ha="left", fontsize=10,
                     fontweight="bold")
    return fig


LAYERS_CAPTION = (
    "Columns: checkpoints (each spans the training up to its neighbours; log tokens); rows: "
    "layer boundaries, the embeddings at the bottom. Mass near 1, energy and cluster count "
    "are means over the probe's prompts; grey: not measured. Below: energy violations per "
    "prompt (± bootstrap error) and, where defined, the two-timescale ratio.")
ACROSS_CAPTION = (
    "Per series over tokens: the mass near 1 at the last layer boundary, the share of "
    "(prompt, beta, layer) places where the energy falls (violations over betas × layers, "
    "so depths compare), the HDBSCAN cluster count at the last boundary, and the largest "
    "spectral radius of a layer's OV map (log axis).")


def series_plot(view: ClusterSeries, events: pd.DataFrame | None = None) -> Plot:
    """Wrap the per-series figure (:func:`layers_figure`) as a report plot."""
    return Plot(f"{slug(view.series)}_clusters_layers", "Token clusters: layer × step",
                LAYERS_CAPTION, layers_figure(view, events), view.series)


def across_plot(views: Sequence[ClusterSeries], events: pd.DataFrame | None = None) -> Plot:
    """Wrap the across-series figure (:func:`across_figure`) as a report plot."""
    return Plot("clusters_across_series", "Token clusters across series", ACROSS_CAPTION,
                across_figure(views, events))


def cluster_plots(stores: Sequence[SeriesStore], events: pd.DataFrame | None = None
                  ) -> Iterator[Plot]:
    """Yield the across-series figure, then one per store with the cluster probe.

    Nothing for stores without it.
    """
    views = [cluster_series(s) for s in stores if has_clusters(s)]
    if not views:
        return
    yield across_plot(views, events)
    for view in views:
        yield series_plot(view, events)
