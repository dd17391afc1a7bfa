"""Matplotlib figures of stored training dynamics.

matplotlib is imported inside the functions (it is an optional dependency) and figures are
built as ``matplotlib.figure.Figure`` objects rendered by Agg, never through pyplot, so no
global backend is switched (a notebook's inline backend stays as it is) and nothing leaks
(the style and the rendering are :mod:`tracker.views.mpl`'s, shared with W&B images).

Token axes are logarithmic. Step 0 has zero tokens, which a log axis cannot show, so the
initialisation is drawn as a hollow marker left of the first checkpoint, in a band labelled
"init" and set off by a dotted line: the random baseline stays visible without pretending to
sit at some token count.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tracker.errors import TrackerError
from tracker.labels import HeadId, order_series, short_series
from tracker.store import Metric, SeriesStore
from tracker.views.metrics import best_over_units, count_past_threshold
from tracker.views.mpl import new_figure, style, token_formatter

SINGLE_COLOURS = ("#2563eb", "#dc2626", "#059669")

#: Event kinds drawn on the emergence timeline (fades and handovers stay in the tables).
TIMELINE_KINDS = ("emergence", "phase_transition")


def series_colours(series_ids: Sequence[str]) -> dict[str, Any]:
    """Colour per series: a size-ordered viridis ramp for 3+ series, fixed hues otherwise."""
    ordered = order_series(series_ids)
    if len(ordered) <= len(SINGLE_COLOURS) - 1:
        return dict(zip(ordered, SINGLE_COLOURS, strict=False))
    from matplotlib import colormaps

    ramp = colormaps["viridis"](np.linspace(0.08, 0.85, len(ordered)))
    return {sid: ramp[i] for i, sid in enumerate(ordered)}


class LogTokenAxis:
    """Places points on a log token axis, with step 0 drawn in an "init" band on the left."""

    def __init__(self, all_tokens: Sequence[np.ndarray]) -> None:
        positive = np.concatenate([np.asarray(t, dtype=float) for t in all_tokens] + [[np.inf]])
        first = float(positive[positive > 0].min())
        self.first = first if np.isfinite(first) else 1.0
        self.last = float(max(positive[np.isfinite(positive)].max(initial=0.0), self.first))
        # Half a decade left of the first checkpoint: far enough to read as apart.
        self.init_x = self.first / 10 ** 0.5
        self.has_init = any((np.asarray(t) <= 0).any() for t in all_tokens)
        self.drew_init = False

    def plot(self, ax: Any, tokens: np.ndarray, y: np.ndarray, colour: Any, **kwargs: Any) -> Any:
        """Plot y against tokens; the step-0 value becomes a hollow init marker."""
        tokens = np.asarray(tokens, dtype=float)
        y = np.asarray(y, dtype=float)
        live = tokens > 0
        (line,) = ax.plot(tokens[live], y[live], color=colour, **kwargs)
        init = ~live & np.isfinite(y)
        if init.any():
            y0 = float(y[init][0])
            self.drew_init = True
            ax.plot([self.init_x], [y0], marker="o", mfc="white", mec=colour, ms=4.5, mew=1.2,
                    linestyle="none", zorder=3)
            if live.any() and np.isfinite(y[live][0]):
                ax.plot([self.init_x, tokens[live][0]], [y0, y[live][0]], color=colour, lw=0.8,
                        linestyle=":", alpha=0.7)
        return line

    def band(self, ax: Any, tokens: np.ndarray, y: np.ndarray, error: np.ndarray,
             colour: Any) -> None:
        """Shade ``y ± error`` over the live checkpoints (none at init, none where NaN)."""
        tokens, y = np.asarray(tokens, dtype=float), np.asarray(y, dtype=float)
        error = np.asarray(error, dtype=float)
        live = (tokens > 0) & np.isfinite(y) & np.isfinite(error)
        if live.sum() >= 2:
            ax.fill_between(tokens[live], (y - error)[live], (y + error)[live], color=colour,
                            alpha=0.18, lw=0, zorder=1)

    def heatmap(self, ax: Any, tokens: np.ndarray, values: np.ndarray, **kwargs: Any) -> Any:
        """Draw ``values`` (n_checkpoints, rows) as one column per checkpoint; row r at y = r.

        Columns meet halfway (in log) between neighbouring checkpoints, so each spans the
        training it stands for; the outer ones reach at most 0.2 decade out, clear of the
        init band, which the step-0 column fills. NaN cells are left to the axes' colour.
        Returns a QuadMesh (for a colour bar; None without checkpoints).
        """
        tokens = np.asarray(tokens, dtype=float)
        grid = np.ma.masked_invalid(np.asarray(values, dtype=float))
        rows = np.arange(grid.shape[1] + 1) - 0.5
        mesh = None
        init = np.flatnonzero(tokens <= 0)
        if len(init):
            self.drew_init = True
            band = [self.init_x / 10 ** 0.25, self.init_x * 10 ** 0.25]
            mesh = ax.pcolormesh(band, rows, grid[init[:1]].T, **kwargs)
        live = np.flatnonzero(tokens > 0)
        if len(live):
            logs = np.log10(tokens[live])
            mids = (logs[1:] + logs[:-1]) / 2
            left = logs[0] - min(0.2, mids[0] - logs[0] if len(mids) else 0.15)
            right = logs[-1] + min(0.2, logs[-1] - mids[-1] if len(mids) else 0.15)
            edges = 10 ** np.concatenate([[left], mids, [right]])
            mesh = ax.pcolormesh(edges, rows, grid[live].T, **kwargs)
        return mesh

    def finish(self, ax: Any, label: str = "tokens seen") -> None:
        """Set the log scale, token tick labels and the init band."""
        from matplotlib.ticker import LogLocator, NullLocator

        ax.set_xscale("log")
        # Short runs span a decade or two: label 1-2-5 steps so the axis keeps a few numbers.
        subs = (1.0, 2.0, 5.0) if self.last / self.first < 10**2.5 else (1.0,)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
        seam = (self.init_x * self.first) ** 0.5 if self.has_init and self.drew_init else 0.0
        # Decade ticks inside the init band would sit under the "init" label: leave them bare.
        ax.xaxis.set_major_formatter(token_formatter(seam))
        # Decade ticks and grid read fine; minor log ticks triple the drawing time.
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(label)
        if self.has_init and self.drew_init:
            left = self.init_x / 10 ** 0.25
            ax.set_xlim(left=left)
            ax.axvline(seam, color="#9ca3af", lw=0.8, linestyle=":", zorder=0)
            ax.axvspan(left, seam, color="#f3f4f6", zorder=-1, lw=0)
            ax.text(self.init_x, -0.02, "init", transform=ax.get_xaxis_transform(),
                    ha="center", va="top", fontsize=7.5, color="#6b7280")


def _matching_events(events: pd.DataFrame | None, series: str, info: Metric) -> pd.DataFrame:
    if events is None or not len(events):
        return pd.DataFrame(columns=["midpoint_tokens"])
    mask = (events["series"] == series) & (events["metric"] == info.name)
    mask &= (events["probe"] == info.probe) | (events["probe"] == "")
    return events[mask]


def mark_events(ax: Any, rows: pd.DataFrame, colour: Any) -> int:
    """Mark events: a dashed line and a top marker at the midpoint, a bottom marker at onset.

    No onset-end bands: detected rises often span decades, and bands of several series
    stacked on one axis bury the curves.
    """
    marked = 0
    edge = ax.get_xaxis_transform()
    for row in rows.itertuples():
        mid, onset = row.midpoint_tokens, row.onset_tokens
        if np.isfinite(mid) and mid > 0:
            ax.axvline(mid, color=colour, lw=1.0, linestyle="--", alpha=0.75, zorder=1)
            ax.plot([mid], [1.0], marker="v", color=colour, ms=5, transform=edge,
                    clip_on=False, zorder=4)
            marked += 1
        if np.isfinite(onset) and onset > 0:
            ax.plot([onset], [0.0], marker="^", color=colour, ms=5, transform=edge,
                    clip_on=False, zorder=4)
    return marked


def event_legend_handles() -> list[Any]:
    """Legend entries explaining :func:`mark_events`' midpoint line and onset marker."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], color="#6b7280", lw=1.0, linestyle="--", marker="v", ms=5,
                   label="event midpoint"),
            Line2D([], [], color="#6b7280", linestyle="none", marker="^", ms=5,
                   label="event onset")]


def card_legend(ax: Any, **kwargs: Any) -> Any:
    """Draw the legend on a white card, so curves and event lines behind it stay out of the text."""
    legend = ax.legend(frameon=True, framealpha=0.92, facecolor="white", edgecolor="none",
                       **kwargs)
    legend.set_zorder(10)
    return legend


def best_unit_errors(values: np.ndarray, errors: np.ndarray, higher: bool | None) -> np.ndarray:
    """Return the SE of the unit :func:`best_over_units` picks at each step (NaN if none)."""
    flat = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    errs = np.asarray(errors, dtype=np.float64).reshape(len(errors), -1)
    out = np.full(len(flat), np.nan)
    rows = np.flatnonzero(np.isfinite(flat).any(axis=1))
    if len(rows):
        pick = np.nanargmin if higher is False else np.nanargmax
        out[rows] = errs[rows, pick(flat[rows], axis=1)]
    return out


def _metric_label(info: Metric) -> str:
    return f"{info.probe}/{info.name}"


def curves_figure(stores: Sequence[SeriesStore], infos: Sequence[Metric],
                  events: pd.DataFrame | None = None) -> Any:
    """One metric over tokens for several series, with detected events marked.

    Head and layer metrics show their best unit per step (max, or min when lower is the
    mechanism) and, with a threshold, a second panel counting units past it. Where the store
    holds the metric's standard error, value ± SE is shaded (for unit metrics, the SE of the
    unit drawn at each step).

    Args:
        stores: Series stores (one line each, coloured by model size).
        infos: The metric's info in each store (same name).
        events: Events frame (see ``tracker.events.read_store_events``), or None.
    """
    info0 = infos[0]
    units = info0.kind in ("head", "layer", "vector")
    two = units and info0.threshold is not None and info0.kind != "vector"
    colours = series_colours([s.series_id for s in stores])
    with style():
        fig = new_figure(9.6 if two else 5.2, 3.4)
        axes = fig.subplots(1, 2) if two else [fig.subplots(1, 1)]
        xaxis = LogTokenAxis([s.tokens for s in stores])
        marked = 0
        for store, info in zip(stores, infos, strict=True):
            values = store.metric(info.probe, info.name)
            colour = colours[store.series_id]
            best = (best_over_units(values, info.higher_is_mechanism) if units
                    else values.astype(float))
            xaxis.plot(axes[0], store.tokens, best, colour, lw=1.6, marker="o", ms=2.5,
                       label=short_series(store.series_id))
            errors = store.standard_error(info.probe, info.name)
            if errors is not None:
                xaxis.band(axes[0], store.tokens, best, best_unit_errors(
                    values, errors, info.higher_is_mechanism) if units else errors, colour)
            rows = _matching_events(events, store.series_id, info)
            marked += mark_events(axes[0], rows, colour)
            if two and info.threshold is not None:
                counts = np.array([count_past_threshold(v, info.threshold, info.higher_is_mechanism)
                                   if np.isfinite(v).any() else np.nan for v in values],
                                  dtype=np.float64)
                xaxis.plot(axes[1], store.tokens, counts, colour, lw=1.6, drawstyle="steps-post",
                           label=short_series(store.series_id))
                mark_events(axes[1], rows, colour)
        which = "min" if info0.higher_is_mechanism is False else "max"
        axes[0].set_ylabel(f"{which} over {info0.kind}s" if units else info0.name)
        axes[0].set_title(_metric_label(info0))
        if info0.threshold is not None:
            for ax in axes[:1]:
                ax.axhline(info0.threshold, color="#6b7280", lw=0.8, linestyle=(0, (1, 2)))
                ax.text(1.0, info0.threshold, " threshold", transform=ax.get_yaxis_transform(),
                        va="center", ha="left", fontsize=7, color="#6b7280", clip_on=False)
        if two:
            side = "≤" if info0.higher_is_mechanism is False else "≥"
            axes[1].set_title(f"{info0.kind}s with {info0.name} {side} {info0.threshold:g}")
            axes[1].set_ylabel(f"number of {info0.kind}s")
            axes[1].yaxis.get_major_locator().set_params(integer=True)
            top = max((np.nanmax(line.get_ydata()) for line in axes[1].get_lines()
                       if np.isfinite(line.get_ydata()).any()), default=0.0)
            axes[1].set_ylim(0, max(1.0, top) * 1.08)
        for ax in axes:
            xaxis.finish(ax)
        handles, _ = axes[0].get_legend_handles_labels()
        if marked:
            handles.extend(event_legend_handles())
        card_legend(axes[0], handles=handles, loc="best")
    return fig


def unit_label(kind: str, unit: int, shape: tuple[int, ...]) -> str:
    """Label of a flattened head/layer index: ``L3H5`` (:class:`HeadId`) or ``L3``."""
    if kind == "head" and len(shape) == 2:
        return HeadId.from_flat(unit, shape[1]).label
    return f"L{unit}" if kind == "layer" else f"#{unit}"


def units_figure(store: SeriesStore, info: Metric, events: pd.DataFrame | None = None,
                 top: int = 5) -> Any:
    """Every head's (or layer's) trajectory, the ``top`` strongest highlighted and labelled."""
    values = store.metric(info.probe, info.name).astype(float)
    flat = values.reshape(len(values), -1)
    lower = info.higher_is_mechanism is False
    # A unit that is NaN throughout (composition into layer 0) has no peak: no warning.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        peak = np.nanmin(flat, axis=0) if lower else np.nanmax(flat, axis=0)
    order = np.argsort(np.where(np.isfinite(peak), peak, -np.inf if not lower else np.inf))
    ranked = [int(u) for u in (order if lower else order[::-1]) if np.isfinite(peak[u])]
    if info.threshold is not None:
        # Colour the units that ever pass the threshold; without any, the three strongest.
        past = [u for u in ranked if (peak[u] <= info.threshold if lower
                                      else peak[u] >= info.threshold)]
        best = past[:top] or ranked[:3]
    else:
        best = ranked[:top]
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors  # type: ignore[attr-defined]  # a ListedColormap
    with style():
        fig = new_figure(5.4, 3.2)
        ax = fig.subplots(1, 1)
        xaxis = LogTokenAxis([store.tokens])
        for unit in range(flat.shape[1]):
            if unit not in best:
                xaxis.plot(ax, store.tokens, flat[:, unit], "#9ca3af", lw=0.7, alpha=0.45)
        rows = _matching_events(events, store.series_id, info)
        for rank, unit in enumerate(best):
            colour = palette[rank % len(palette)]
            label = unit_label(info.kind, unit, info.shape)
            xaxis.plot(ax, store.tokens, flat[:, unit], colour, lw=1.7, label=label)
        for row in rows.itertuples():
            if row.layer < 0 or not np.isfinite(row.midpoint_tokens):
                continue
            unit = row.layer * info.shape[1] + row.head if info.kind == "head" else row.layer
            live = store.tokens > 0
            if not 0 <= unit < flat.shape[1] or live.sum() < 2:
                continue  # an event for a head this store does not have: nothing to mark
            y = np.interp(np.log10(row.midpoint_tokens), np.log10(store.tokens[live]),
                          flat[live, unit])
            colour = palette[best.index(unit) % len(palette)] if unit in best else "#374151"
            ax.plot([row.midpoint_tokens], [y], marker="D", ms=5, mfc=colour, mec="white",
                    mew=0.8, zorder=5, linestyle="none")
        if info.threshold is not None:
            ax.axhline(info.threshold, color="#6b7280", lw=0.8, linestyle=(0, (1, 2)))
        ax.set_title(f"{short_series(store.series_id)}: {info.name} per {info.kind}")
        ax.set_ylabel(info.name)
        xaxis.finish(ax)
        handles, _ = ax.get_legend_handles_labels()
        if len(rows):
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], marker="D", color="#374151", linestyle="none", ms=5,
                                  label="event midpoint"))
        card_legend(ax, handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                title_fontsize=7.5, title=f"{len(best)} of {flat.shape[1]} {info.kind}s")
    return fig


def mechanism_label(kind: str, probe: str, metric: str, width: int = 30) -> str:
    """Row label of the emergence timeline, wrapped to ``width`` characters."""
    import textwrap

    name = (metric or probe or "?").replace("+", " + ")
    if kind != "emergence":
        name = f"{kind.replace('_', ' ')}: {name}"
    return "\n".join(textwrap.wrap(name, width)) or name


def has_timeline(events: pd.DataFrame) -> bool:
    """Whether any event can go on the emergence timeline (right kind, positive onset)."""
    if not len(events):
        return False
    onset = events["onset_tokens"].to_numpy(dtype=float)
    return bool((events["kind"].isin(TIMELINE_KINDS).to_numpy() & (onset > 0)).any())


def timeline_figure(events: pd.DataFrame, series_ids: Sequence[str] | None = None) -> Any:
    """Emergence timeline across sizes: a row per mechanism, a marker per series at its onset.

    A series' marker is its earliest event for that mechanism (the first head to emerge); the
    bar runs from onset to end and the tick marks the midpoint.
    """
    if not len(events):
        raise TrackerError("no detected events to draw a timeline of")
    series = order_series(series_ids or events["series"].unique())
    colours = series_colours(series)
    shown = events[events["kind"].isin(TIMELINE_KINDS) & np.isfinite(events["onset_tokens"])
                   & (events["onset_tokens"] > 0)]
    if not len(shown):
        raise TrackerError("no emergence or phase-transition events with an onset to draw")
    firsts = (shown.sort_values("onset_tokens")
              .groupby(["kind", "probe", "metric", "series"], sort=False).head(1))
    groups = firsts.groupby(["kind", "probe", "metric"])["onset_tokens"].median().reset_index()
    # Emergence rows first, then phase transitions; each by median onset.
    groups["rank"] = groups["kind"].map({k: i for i, k in enumerate(TIMELINE_KINDS)})
    groups = groups.sort_values(["rank", "onset_tokens"])
    rows = list(zip(groups["kind"], groups["probe"], groups["metric"], strict=True))
    with style():
        fig = new_figure(6.4, 1.0 + 0.48 * max(2, len(rows)))
        ax = fig.subplots(1, 1)
        spread = 0.5 / max(1, len(series))
        for r, key in enumerate(rows):
            sub = firsts[(firsts["kind"] == key[0]) & (firsts["probe"] == key[1])
                         & (firsts["metric"] == key[2])]
            for s_i, sid in enumerate(series):
                hit = sub[sub["series"] == sid]
                if not len(hit):
                    continue
                ev = hit.iloc[0]
                y = r + (s_i - (len(series) - 1) / 2) * spread
                if np.isfinite(ev.end_tokens):
                    ax.plot([ev.onset_tokens, ev.end_tokens], [y, y], color=colours[sid], lw=2.2,
                            alpha=0.45, solid_capstyle="round")
                if np.isfinite(ev.midpoint_tokens):
                    ax.plot([ev.midpoint_tokens], [y], marker="|", color=colours[sid], ms=7)
                ax.plot([ev.onset_tokens], [y], marker="o", color=colours[sid], ms=6,
                        mec="white", mew=0.8, linestyle="none")
        for sid in series:
            ax.plot([], [], marker="o", color=colours[sid], linestyle="none",
                    label=short_series(sid))
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([mechanism_label(*key) for key in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.grid(axis="y", visible=False)
        LogTokenAxis([firsts["onset_tokens"].to_numpy()]).finish(ax, "onset (tokens seen)")
        fig.suptitle("Emergence timeline  (dot: onset, bar: onset–end, tick: midpoint)",
                     x=0.01, ha="left", fontsize=10, fontweight="bold")
        card_legend(ax, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="series",
                title_fontsize=8)
    return fig
