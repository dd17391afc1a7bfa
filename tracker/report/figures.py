"""Which figures a set of stores gets, and writing them to files (``tracker plot``)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tracker.errors import TrackerError
from tracker.events import read_events_for
from tracker.labels import order_series, slug
from tracker.report import heatmaps, plots
from tracker.store import Metric, SeriesStore
from tracker.views.metrics import default_metrics
from tracker.views.mpl import save_figure

PLOT_FORMATS = ("png", "pdf", "svg")


@dataclass
class Plot:
    """One rendered figure and where it belongs.

    Attributes:
        name: File stem, unique within a report (``curves_induction_score``).
        title: Heading shown above it.
        caption: One or two sentences on how to read it.
        figure: The matplotlib Figure.
        series: Series id it belongs to, or None for cross-series figures.
    """

    name: str
    title: str
    caption: str
    figure: Any
    series: str | None = None


def open_stores(paths: Sequence[str | os.PathLike[str]]) -> list[SeriesStore]:
    """Open stores, ordered by model size; two stores of one series are refused.

    Raises:
        TrackerError: If a store is unreadable or a series appears twice.
    """
    if not paths:
        raise TrackerError("no stores given")
    stores = [SeriesStore(p) for p in paths]
    seen: dict[str, Path] = {}
    for store in stores:
        if store.series_id in seen:
            raise TrackerError(f"{store.path}: series {store.series_id!r} is also in "
                               f"{seen[store.series_id]}")
        seen[store.series_id] = store.path
    order = order_series(seen)
    return sorted(stores, key=lambda s: order.index(s.series_id))


def select_metrics(stores: Sequence[SeriesStore], specs: Sequence[str] | None) -> list[str]:
    """Resolve ``--metric`` specs to ``probe/name``.

    By default: every head, layer and scalar metric that changes over training in some store
    (constant diagnostics such as prompt counts would only add flat lines).

    Raises:
        TrackerError: If a requested metric is in none of the stores.
    """
    if specs:
        out = []
        for spec in specs:
            found, errors = [], []
            for store in stores:
                try:
                    found.append(store.find_metric(spec))
                except TrackerError as exc:
                    errors.append(exc)
            if not found:
                raise errors[0]
            out.append(f"{found[0].probe}/{found[0].name}")
        return list(dict.fromkeys(out))
    chosen: dict[str, None] = {}
    for store in stores:
        chosen.update({f"{i.probe}/{i.name}": None for i in default_metrics(store)
                       if _varies(store, i)})
    return list(chosen)


def _varies(store: SeriesStore, info: Metric) -> bool:
    """Whether a metric changes over training (constant ones, e.g. prompt counts, are noise)."""
    values = store.metric(info.probe, info.name).astype(float)
    values = values.reshape(len(values), -1)
    finite = np.isfinite(values)
    spread = [np.ptp(column[ok]) for column, ok in zip(values.T, finite.T, strict=True)
              if ok.sum() > 1]
    return bool(spread) and max(spread) > 0


def _infos(stores: Sequence[SeriesStore], spec: str) -> list[tuple[SeriesStore, Metric]]:
    probe, _, name = spec.partition("/")
    pairs = []
    for store in stores:
        match = [i for i in store.metric_infos(probe) if i.name == name]
        if match:
            pairs.append((store, match[0]))
    return pairs


#: Event kinds that are data-quality warnings, not changes: never markers or "strongest events".
WARNING_KINDS = ("outlier",)


def split_warnings(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split events into changes and quality warnings (isolated outliers, confidence 0)."""
    if not len(events) or "kind" not in events:
        return events, events.iloc[0:0]
    warn = events["kind"].isin(WARNING_KINDS)
    return events[~warn], events[warn]


def make_plots(stores: Sequence[SeriesStore], metrics: Sequence[str],
               events: pd.DataFrame, n_panels: int = 8) -> Iterator[Plot]:
    """Yield the figures for these stores: cross-series first, then per series.

    Cross-series (:func:`overview_plots`): each metric over tokens (all series on one axis)
    and the emergence timeline. Per series (:func:`series_plots`): per-head trajectories and
    layer x head small multiples of each head metric. Figures are yielded one at a time so
    callers can save and drop them.
    """
    yield from overview_plots(stores, metrics, events)
    for store in stores:
        yield from series_plots(store, metrics, events, n_panels)


def overview_plots(stores: Sequence[SeriesStore], metrics: Sequence[str],
                   events: pd.DataFrame) -> Iterator[Plot]:
    """Yield the cross-series figures: each metric over tokens, then the emergence timeline.

    Quality warnings (outliers) are not marked as events.
    """
    events = split_warnings(events)[0]

    def wide_first(spec: str) -> int:
        # Two-panel figures (metrics with a threshold) first, so one-panel figures pair up.
        pairs = _infos(stores, spec)
        two = pairs and pairs[0][1].kind in ("head", "layer") and pairs[0][1].threshold is not None
        return 0 if two else 1

    for spec in sorted(metrics, key=wide_first):
        pairs = _infos(stores, spec)
        if not pairs:
            continue
        info = pairs[0][1]
        units = "heads" if info.kind == "head" else f"{info.kind}s"
        meaning = info.description[:1].upper() + info.description[1:]
        caption = (f"{meaning or spec}. "
                   + (f"Best of all {units} per checkpoint" if info.kind != "scalar" else
                      "Value per checkpoint")
                   + " against tokens seen (log axis; hollow markers: step 0)."
                   + (" Dashed lines: detected event midpoints." if len(events) else ""))
        yield Plot(f"curves_{slug(spec)}", spec, caption,
                   plots.curves_figure([s for s, _ in pairs], [i for _, i in pairs], events))
    if plots.has_timeline(events):
        yield Plot("timeline", "Emergence timeline",
                   "First detected onset of each mechanism per series (earliest head); "
                   "series ordered and coloured by model size.",
                   plots.timeline_figure(events, [s.series_id for s in stores]))


def series_plots(store: SeriesStore, metrics: Sequence[str], events: pd.DataFrame,
                 n_panels: int = 8) -> Iterator[Plot]:
    """Yield one series' figures: unit trajectories, then layer x head small multiples.

    They depend on this store, its own events and the metrics alone (so a report can reuse
    them while other series change).
    """
    events = split_warnings(events)[0]
    sid = store.series_id
    # A metric chosen for another store may never be measured in this one (a circuit
    # that never forms): no trajectories or grid of nothing.
    infos = [p[0][1] for spec in metrics if (p := _infos([store], spec))
             and np.isfinite(store.metric(p[0][1].probe, p[0][1].name)).any()]
    # Trajectories first (they sit side by side on a page), then the wide grids.
    for info in infos:
        if info.kind in ("head", "layer"):
            yield Plot(f"{slug(sid)}_units_{slug(info.probe)}-{slug(info.name)}",
                       f"{info.probe}/{info.name} per {info.kind}",
                       f"Every {info.kind}'s trajectory; those that pass the threshold "
                       "are coloured, diamonds mark detected event midpoints.",
                       plots.units_figure(store, info, events), sid)
    for info in infos:
        if info.kind == "head" and len(info.shape) == 2:
            figure = heatmaps.grid_figure(store, info, n_panels)
            yield Plot(f"{slug(sid)}_grid_{slug(info.probe)}-{slug(info.name)}",
                       f"{info.probe}/{info.name}: layer × head over training",
                       "Log-spaced checkpoints on one colour scale; white dots mark heads "
                       "past the threshold.", figure, sid)


def write_plots(paths: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                metrics: Sequence[str] | None = None, fmt: str = "png",
                events: pd.DataFrame | None = None, n_panels: int = 8) -> list[Path]:
    """Draw every figure for some stores into ``out_dir`` (one file per figure).

    By default that includes each store's circuit and token-cluster figures
    (:mod:`tracker.report.circuits`, :mod:`tracker.report.clusters`).

    Args:
        paths: Series store paths.
        out_dir: Output folder (created).
        metrics: Metric specs (``name`` or ``probe/name``); default: all plottable.
        fmt: ``png``, ``pdf`` or ``svg``.
        events: Events to mark; default: read from the stores.
        n_panels: Checkpoints per small-multiples heatmap.

    Returns:
        The written files, in drawing order.

    Raises:
        TrackerError: For unreadable stores, unknown metrics or an unknown format.
    """
    if fmt not in PLOT_FORMATS:
        raise TrackerError(f"--format {fmt!r}: expected one of {', '.join(PLOT_FORMATS)}")
    stores = open_stores(paths)
    if events is None:
        events = read_events_for((s.path, s.series_id) for s in stores)
    out = Path(out_dir)
    written = []
    for plot in make_plots(stores, select_metrics(stores, metrics), events, n_panels):
        written.append(save_figure(plot.figure, out / f"{plot.name}.{fmt}"))
        plot.figure.clear()
    if metrics:
        return written  # metrics were chosen: only those
    # Imported here: the circuit and cluster figures build on this module's Plot.
    from tracker.report.circuits import circuit_plots
    from tracker.report.clusters import cluster_plots

    for plot in itertools.chain((p for s in stores for p in circuit_plots(s)),
                                cluster_plots(stores, events)):
        written.append(save_figure(plot.figure, out / f"{plot.name}.{fmt}"))
        plot.figure.clear()
    return written
