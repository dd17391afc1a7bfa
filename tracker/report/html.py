"""A self-contained HTML report: figures as PNG data URIs, inline CSS, no external requests."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from tracker import __version__
from tracker.events import read_events_for
from tracker.labels import format_tokens, head_label, short_series, slug
from tracker.report.circuit_section import circuits_overview, circuits_section
from tracker.report.cluster_section import clusters_overview, clusters_section
from tracker.report.dormant_section import dormant_overview, dormant_section
from tracker.report.dynamics_section import dynamics_overview
from tracker.report.figures import (
    Plot,
    open_stores,
    overview_plots,
    select_metrics,
    series_plots,
    split_warnings,
)
from tracker.report.fragments import figure_html as _figure
from tracker.report.fragments import num as _num
from tracker.report.fragments import table_html as _table
from tracker.report.fragments import when as _when
from tracker.report.llc_section import llc_overview, llc_section
from tracker.report.page import PAGE_SCRIPT, PAGE_STYLE
from tracker.report.rendering import FigurePool, figure_pool
from tracker.report.sections import SECTIONS, section_key
from tracker.store import SeriesStore
from tracker.views.metrics import aggregate_names, readings_from_store, step_aggregates


def _where(row: pd.Series) -> str:
    if row["layer"] >= 0 and row["head"] >= 0:
        where = head_label(row["layer"], row["head"])
    elif row["layer"] >= 0:
        where = f"L{row['layer']}"
    else:
        members = str(row["members"])
        short = members if len(members) <= 48 else members[:47] + "…"
        where = f"<span title='{escape(members)}'>{escape(short)}</span>" if members else "–"
    more = int(row.get("_more", 0) or 0)
    return where + (f" <span class='muted'>+{more} more</span>" if more else "")


def _width(row: pd.Series) -> str:
    """``abrupt`` / ``gradual`` over the 10-90% width in decades (en dash when unknown)."""
    character = str(row.get("character", "") or "")
    if not character:
        return "–"
    share = row.get("largest_share", np.nan)
    return (f"{escape(character)}<span class='sub'>{_num(row.get('width_decades'), 2)} dec, "
            f"{_num(share, 2)} in one step</span>")


def top_events(events: pd.DataFrame, limit: int = 8) -> pd.DataFrame:
    """Strongest events (|magnitude| x confidence), one per (series, kind, metric).

    A mechanism that emerges in four heads at once is one finding, not four rows; the
    others are counted in ``_more``.
    """
    strength = events["magnitude"].abs().fillna(0) * events["confidence"].fillna(1)
    ranked = events.assign(_s=strength).sort_values("_s", ascending=False, kind="stable")
    keys = ["series", "kind", "metric"]
    counts = ranked.groupby(keys)["_s"].transform("size")
    ranked = ranked.assign(_more=counts - 1)
    return ranked.drop_duplicates(keys).head(limit)


def events_table(events: pd.DataFrame, with_series: bool = True, limit: int | None = None) -> str:
    """Events as an HTML table; with ``limit``, the strongest finding per mechanism first."""
    if not len(events):
        return "<p class='muted'>No events detected (run <code>tracker detect</code>).</p>"
    frame = top_events(events, limit) if limit is not None else events
    headers = (["series"] if with_series else []) + [
        "mechanism", "where", "onset", "midpoint", "end", "width", "magnitude", "confidence",
        "detector"]
    rows = []
    for _, row in frame.iterrows():
        kind = ("" if row["kind"] == "emergence"
                else f" <span class='tag'>{escape(row['kind'].replace('_', ' '))}</span>")
        metric = str(row["metric"] or row["probe"]).replace("+", " + ")
        detector = str(row["detector"] or "–")
        cells = ([escape(short_series(row["series"]))] if with_series else []) + [
            f"<b>{escape(metric)}</b>{kind}", _where(row),
            _when(row["onset_step"], row["onset_tokens"]),
            _when(row["midpoint_step"], row["midpoint_tokens"]),
            _when(row["end_step"], row["end_tokens"]), _width(row),
            _num(row["magnitude"]), _num(row["confidence"], 2),
            f"<span title='{escape(detector)}'>{escape(detector.split(':')[0])}</span>"]
        rows.append(cells)
    return _table(headers, rows, "events")


def warnings_list(warnings: pd.DataFrame, with_series: bool = True, limit: int = 12) -> str:
    """Isolated outliers as a short list of data-quality warnings ('' when there are none)."""
    if not len(warnings):
        return ""
    items = []
    for _, row in warnings.head(limit).iterrows():
        who = f"{escape(short_series(row['series']))}: " if with_series else ""
        items.append(f"<li>{who}<b>{escape(str(row['metric'] or row['probe']))}</b> "
                     f"{_where(row)} at step {row['midpoint_step']:,.0f} "
                     f"(value {_num(row['magnitude'])})</li>")
    more = (f"<li class='muted'>and {len(warnings) - limit} more</li>"
            if len(warnings) > limit else "")
    return (f"<details class='quality'><summary>{len(warnings)} quality warning"
            f"{'s' if len(warnings) != 1 else ''} (isolated outliers: one checkpoint off its "
            f"neighbours; not changes)</summary><ul>{''.join(items)}{more}</ul></details>")


def _final_numbers(store: SeriesStore) -> list[str]:
    """Head counts past threshold at the last checkpoint, per thresholded head metric."""
    if not len(store.steps):
        return []
    values = step_aggregates(readings_from_store(store, len(store.steps) - 1))
    out = []
    for info in store.metric_infos():
        if info.kind != "head" or info.threshold is None:
            continue
        names = aggregate_names(info)
        best, count = values.get(names["best"], np.nan), values.get(names["count"], np.nan)
        if not np.isfinite(best):
            continue  # not measured at the last checkpoint
        out.append(f"{escape(info.name)}: {_num(best, 2)} max, "
                   f"{'–' if not np.isfinite(count) else int(count)} heads")
    return out


def _summary(stores: Sequence[SeriesStore], events: pd.DataFrame) -> str:
    probes = sorted({p for s in stores for p, _ in s.variants()})
    cards = [("series", str(len(stores))), ("checkpoints", str(sum(len(s.steps) for s in stores))),
             ("probes", ", ".join(probes) or "–"), ("events", str(len(events)))]
    card_html = "".join(f"<div class='card'><div class='k'>{k}</div><div class='v"
                        f"{' long' if len(v) > 24 else ''}'>{escape(v)}</div></div>"
                        for k, v in cards)
    rows = []
    for s in stores:
        n_events = int((events["series"] == s.series_id).sum()) if len(events) else 0
        span = (f"{s.steps[0]:,} – {s.steps[-1]:,}<span class='sub'>"
                f"{format_tokens(s.tokens[0])} – {format_tokens(s.tokens[-1])} tok</span>")
        warn = (f" <span class='tag warn'>{int(s.repeated_weights.sum())} repeated</span>"
                if s.repeated_weights.any() else "")
        rows.append([f"<a href='#{slug(s.series_id)}'>{escape(s.series_id)}</a>",
                     f"{len(s.steps)}{warn}", span,
                     ", ".join(escape(p) for p, _ in s.variants()), str(n_events),
                     "<br>".join(_final_numbers(s)) or "–"])
    table = _table(["series", "checkpoints", "steps", "probes", "events", "at last checkpoint"],
                   rows)
    changes, warnings = split_warnings(events)
    top = (f"<h3>Top events</h3>{events_table(changes, limit=8)}{warnings_list(warnings)}"
           if len(events) else "")
    return f"<div class='cards'>{card_html}</div>{table}{top}"


def _provenance(store: SeriesStore) -> str:
    facts = [("series", store.series_id), ("store", str(store.path)),
             ("tokens per step", f"{store.tokens_per_step:,}"),
             ("schema / tracker", f"{store.attrs.get('schema_version')} / "
                                  f"{store.attrs.get('package_version')}")]
    facts += [(k, v if isinstance(v, str) else json.dumps(v, sort_keys=True))
              for k, v in sorted(store.provenance.items()) if k not in ("series_id", "probes")]
    facts_html = "".join(f"<dt>{escape(k)}</dt><dd><code>{escape(str(v) or '–')}</code></dd>"
                         for k, v in facts)
    probe_rows = []
    for probe, key in store.variants():
        attrs = store.variant_attrs(probe, key)
        present = int(np.sum(attrs["present"]))
        default = " <span class='tag'>plotted</span>" if store.resolve_key(probe) == key else ""
        probe_rows.append([f"<b>{escape(probe)}</b>{default}", f"v{attrs['probe_version']}",
                           f"<code>{escape(key)}</code>", f"{present}/{len(store.steps)}",
                           f"<code class='cfg'>{escape(str(attrs['config_json']))}</code>"])
    warn = ""
    if store.repeated_weights.any():
        steps = ", ".join(f"{s:,}" for s in store.steps[store.repeated_weights])
        warn = (f"<div class='warning'><b>Repeated weights.</b> These checkpoints hold the same "
                f"weights as the previous one, so their results repeat: steps {steps}.</div>")
    ckpt_rows = [[f"{st:,}", format_tokens(tok), f"<code>{escape(rev)}</code>",
                  f"<code title='{escape(h)}'>{escape(h[:10])}</code>",
                  "<span class='tag warn'>repeated</span>" if rep else ""]
                 for st, tok, rev, h, rep in zip(store.steps, store.tokens, store.revisions,
                                                 store.checkpoint_hashes, store.repeated_weights,
                                                 strict=True)]
    metric_rows = [[f"<code>{escape(i.probe)}/{escape(i.name)}</code>", i.kind,
                    "×".join(str(d) for d in i.shape) or "–",
                    "–" if i.threshold is None else f"{i.threshold:g}",
                    {True: "higher", False: "lower", None: "–"}[i.higher_is_mechanism],
                    escape(i.description)] for i in store.metric_infos()]
    probes = _table(["probe", "version", "key", "steps", "config"], probe_rows)
    checkpoints = _table(["step", "tokens", "revision", "hash", ""], ckpt_rows, "compact")
    metrics = _table(["metric", "kind", "shape", "threshold", "mechanism", "meaning"],
                     metric_rows, "compact")
    return (f"{warn}<div class='two'><div><h3>Provenance</h3><dl>{facts_html}</dl></div>"
            f"<div><h3>Probes</h3>{probes}</div></div><details><summary>{len(store.steps)} "
            f"checkpoints (revision, weights hash)</summary>{checkpoints}</details>"
            f"<details><summary>{len(metric_rows)} metrics (kind, threshold, meaning)</summary>"
            f"{metrics}</details>")


def render_report(paths: Sequence[str | os.PathLike[str]], metrics: Sequence[str] | None = None,
                  events: pd.DataFrame | None = None, n_panels: int = 8,
                  title: str | None = None, workers: int = 1) -> str:
    """Build the report page for some stores and return its HTML.

    A series section drawn before in this process from the same store bytes, events and
    options is reused (:mod:`tracker.report.sections`), so rewriting a report as stores are
    added renders only what changed.

    Args:
        paths: Series store paths.
        metrics: Metric specs to plot (default: all plottable metrics).
        events: Events to show; default: read from the stores.
        n_panels: Checkpoints per small-multiples heatmap.
        title: Page title (default: the series names).
        workers: Processes rendering figures (1: in this process; see
            :mod:`tracker.report.rendering`).

    Raises:
        TrackerError: For unreadable stores or unknown metrics.
    """
    with figure_pool(workers) as pool:
        parts, fresh = _render(paths, metrics, events, n_panels, title, pool)
        if pool is not None:
            parts = [pool.fill(part) for part in parts]
    for index, key in fresh.items():
        SECTIONS.put(key, parts[index])
    return "".join(parts)


def _section(store: SeriesStore, mine: pd.DataFrame, figures: Iterable[Plot]) -> str:
    """One series' section: provenance, events, its figures and its probes' blocks."""
    stale = ("<div class='warning'><b>Stale events.</b> The store gained or lost "
             "checkpoints since these events were detected; run <code>tracker detect"
             "</code> again.</div>" if len(mine) and mine["stale"].any() else "")
    changes, warnings = split_warnings(mine)
    return (f"<section id='{slug(store.series_id)}'><h2>{escape(store.series_id)}</h2>"
            f"{_provenance(store)}<h3>Events</h3>{stale}"
            f"{events_table(changes, with_series=False)}"
            f"{warnings_list(warnings, with_series=False)}"
            f"<div class='figs'>{''.join(_figure(p) for p in figures)}</div>"
            f"{llc_section(store, mine)}{clusters_section(store, mine)}"
            f"{circuits_section(store)}{dormant_section(store)}</section>")


def _section_job(path: str, mine: pd.DataFrame, chosen: Sequence[str], events: pd.DataFrame,
                 n_panels: int) -> str:
    """Draw one series' section from its store's path (run inline or in a render worker)."""
    store = SeriesStore(path)
    return _section(store, mine, series_plots(store, chosen, events, n_panels))


def _fresh_section(pool: FigurePool | None, store: SeriesStore, mine: pd.DataFrame,
                   chosen: Sequence[str], events: pd.DataFrame, n_panels: int) -> str:
    """Draw a section inline, or queue it whole to a worker (a placeholder until filled)."""
    args = (str(store.path), mine, list(chosen), events, n_panels)
    return _section_job(*args) if pool is None else pool.call(_section_job, *args)


def _render(paths: Sequence[str | os.PathLike[str]], metrics: Sequence[str] | None,
            events: pd.DataFrame | None, n_panels: int, title: str | None,
            pool: FigurePool | None = None) -> tuple[list[str], dict[int, str]]:
    """Return the page in parts (head and overview, one per series, foot) and fresh keys.

    With a pool and several sections to draw, they are queued whole first, so the workers
    build and render them while this process builds the overview.
    """
    stores = open_stores(paths)
    if events is None:
        events = read_events_for((s.path, s.series_id) for s in stores)
    chosen = select_metrics(stores, metrics)
    mine = [events[events["series"] == s.series_id] if len(events) else events for s in stores]
    keys = [section_key(s, m, chosen, n_panels) for s, m in zip(stores, mine, strict=True)]
    kept = [SECTIONS.get(key) for key in keys]
    # One section to draw (a rewrite after one store changed): this process builds it and
    # the workers render its figures side by side. Several (a fresh page): each goes whole
    # to a worker, as one worker drawing one section alone would be the critical path.
    whole = pool if sum(k is None for k in kept) > 1 else None
    sections: list[str] = []
    fresh: dict[int, str] = {}
    for index, s in enumerate(stores):
        section = kept[index]
        if section is None:
            fresh[index + 1] = keys[index]  # the page's parts: head, then one per series
            section = _fresh_section(whole, s, mine[index], chosen, events, n_panels)
        sections.append(section)
    overview = "".join(_figure(plot) for plot in overview_plots(stores, chosen, events))
    title = title or ", ".join(short_series(s.series_id) for s in stores)
    nav = "".join(f"<a href='#{slug(s.series_id)}'>{escape(short_series(s.series_id))}</a>"
                  for s in stores)
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · training dynamics</title><style>{PAGE_STYLE}</style></head>
<body><header><div class="wrap"><div class="eyebrow">Training-dynamics report</div>
<h1>{escape(title)}</h1><div class="meta">tracker {__version__} · generated {generated} ·
{len(stores)} store(s)</div><nav><a href="#summary">Summary</a><a href="#overview">Across
series</a>{nav}</nav></div></header>
<main class="wrap"><section id="summary"><h2>Summary</h2>{_summary(stores, events)}</section>
<section id="overview"><h2>Across series</h2><div class="figs">{overview}</div>
{llc_overview(stores, events)}{dynamics_overview(stores, events)}
{clusters_overview(stores, events)}{circuits_overview(stores)}
{dormant_overview(stores)}</section>"""
    foot = f"""</main>
<footer class="wrap">Generated by <code>tracker report</code> from the HDF5 store(s), which
remain the source of truth. Metric <i>kind</i> and thresholds come from each probe's
declaration.</footer><script>{PAGE_SCRIPT}</script></body></html>
"""
    return [head, *sections, foot], fresh


def write_report(paths: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                 metrics: Sequence[str] | None = None, events: pd.DataFrame | None = None,
                 n_panels: int = 8, title: str | None = None, workers: int = 1) -> Path:
    """Write ``out_dir/index.html`` for some stores and return its path.

    Args:
        paths: Series store paths.
        out_dir: Output folder (created).
        metrics: Metric specs to plot (default: all plottable metrics).
        events: Events to show; default: read from the stores.
        n_panels: Checkpoints per small-multiples heatmap.
        title: Page title.
        workers: Processes rendering figures (1: in this process).
    """
    page = render_report(paths, metrics, events, n_panels, title, workers)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "index.html"
    tmp = target.with_name(".index.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)  # a browser refreshing mid-write never sees half a page
    return target
