"""The report's across-series blocks on how transitions happen.

* The induction circuit's formation order (:mod:`tracker.events.induction_order`): per
  induction head, its previous-token partner and when each part formed. Empty for stores
  without the induction, composition and copying probes.
* Transition widths (:mod:`tracker.events.character`): per mechanism and series, how many
  emergences and fades were abrupt or gradual and their median 10-90% width.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import pandas as pd

from tracker.events.character import CharacterRule, width_table
from tracker.events.induction_order import PARTS, induction_parts, order_table
from tracker.labels import format_tokens, short_series
from tracker.report.fragments import num, table_html
from tracker.report.sections import StoreMemo
from tracker.store import SeriesStore

ORDER_GUIDE = (
    "Each induction head (final induction stripe at or above the probe's threshold) with its "
    "previous-token partner, the earlier head with the largest K-composition into it. A part's "
    "time is the midpoint step of its first emergence (the one definition <code>tracker "
    "detect</code> uses); the half-rise step, beneath, is the first checkpoint half-way from its "
    "initial to its final level, defined for every part that ends higher than it starts. "
    "<code>=</code>: within 0.05 decades.")

#: Each store's induction parts (an emergence test per part and head: seconds per store),
#: kept across the demo's report rewrites.
_PARTS: StoreMemo[pd.DataFrame] = StoreMemo(induction_parts)


def _time(step: float, half: float) -> str:
    event = "–" if not pd.notna(step) else f"{step:,.0f}"
    sub = "never" if not pd.notna(half) else f"{half:,.0f}"
    return f"{event}<span class='sub'>half {sub}</span>"


def order_html(stores: Sequence[SeriesStore]) -> str:
    """Render the formation-order table of every store's induction heads ('' if none has any)."""
    frames = [_PARTS(store) for store in stores]
    frames = [f for f in frames if len(f)]
    if not frames:
        return ""
    table = order_table(pd.concat(frames, ignore_index=True))
    headers = ["series", "head", "partner", "K-comp (final)",
               *(p.replace("_", " ") for p in PARTS), "order (events)", "order (half-rise)"]
    rows = [[escape(short_series(r["series"])), f"<code>{escape(r['head'])}</code>",
             f"<code>{escape(r['partner'])}</code>", num(r["k_comp_final"]),
             *(_time(r[f"{p}_step"], r[f"{p}_half"]) for p in PARTS),
             escape(r["order"]), escape(r["order_half"])] for _, r in table.iterrows()]
    return (f"<h3>Induction circuit formation order</h3><p class='muted'>{ORDER_GUIDE}</p>"
            f"{table_html(headers, rows, 'compact order')}")


def widths_html(events: pd.DataFrame) -> str:
    """Render abrupt / gradual counts and median widths per mechanism and series ('' if none)."""
    table = width_table(events) if len(events) else pd.DataFrame()
    if table.empty:
        return ""
    headers = ["mechanism", "kind", "series", "events", "abrupt", "gradual",
               "median width (decades)", "range (decades)", "median width (tokens)",
               "median share in one interval"]
    rows = [[f"<b>{escape(str(r['metric']))}</b>", escape(str(r["kind"])),
             escape(short_series(r["series"])), str(r["events"]), str(r["abrupt"]),
             str(r["gradual"]), num(r["median_width_decades"], 2),
             f"{num(r['min_width_decades'], 2)}–{num(r['max_width_decades'], 2)}",
             format_tokens(r["median_width_tokens"]), num(r["median_largest_share"], 2)]
            for _, r in table.sort_values(["metric", "kind", "series"]).iterrows()]
    abrupt, total = int(table["abrupt"].sum()), int(table["events"].sum())
    return (f"<h3>Transition widths</h3><p class='muted'>{abrupt} of {total} emergences and "
            f"fades are abrupt ({escape(CharacterRule().text)}); width is the 10-90% span of "
            "the fitted step.</p><details><summary>per mechanism and series</summary>"
            f"{table_html(headers, rows, 'compact widths')}</details>")


def dynamics_overview(stores: Sequence[SeriesStore], events: pd.DataFrame) -> str:
    """Render both blocks, for the report's "Across series" section."""
    return order_html(stores) + widths_html(events)
