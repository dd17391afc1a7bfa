"""Align mechanisms across series (model sizes, seeds): timelines and onset spreads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tracker.labels import head_label

if TYPE_CHECKING:
    import pandas as pd


def _first_emergences(events: pd.DataFrame) -> pd.DataFrame:
    """Earliest emergence of each (series, metric): the first head to become the mechanism."""
    rises = events[events["kind"] == "emergence"]
    if rises.empty:
        return rises
    rises = rises.sort_values("onset_tokens")
    grouped = rises.groupby(["metric", "series"], sort=False)
    first = grouped.head(1).copy()
    counts = grouped.size().rename("n_heads")
    first = first.join(counts, on=["metric", "series"])
    first["head_label"] = [head_label(r.layer, r.head) for r in first.itertuples()]
    return first


def timeline(events: pd.DataFrame, series_order: list[str] | None = None) -> pd.DataFrame:
    """Emergence timeline: one row per mechanism, onset tokens per series, sorted by time.

    Args:
        events: Events DataFrame (``read_events`` of one or more stores, concatenated).
        series_order: Column order (default: order of first appearance).

    Returns:
        Wide DataFrame indexed by metric, one column of onset tokens per series (NaN where the
        mechanism did not emerge), sorted by the earliest onset.
    """
    import pandas as pd

    first = _first_emergences(events)
    order = series_order or (list(dict.fromkeys(events["series"])) if len(events) else [])
    if first.empty:
        return pd.DataFrame(columns=order)
    wide = first.pivot(index="metric", columns="series", values="onset_tokens")
    wide = wide.reindex(columns=order)
    return wide.loc[wide.min(axis=1).sort_values().index]


def scale_table(events: pd.DataFrame) -> pd.DataFrame:
    """Compare each mechanism across series.

    Returns:
        Long DataFrame with one row per (metric, series): onset and midpoint tokens of the
        first head to emerge, that head, how many heads emerged, the spread of onsets across
        series in decades (log10 of max/min onset tokens), and whether a handover (one head
        fading while another takes over) happened in that series.
    """
    import pandas as pd

    first = _first_emergences(events)
    columns = ["metric", "series", "onset_tokens", "midpoint_tokens", "onset_step", "head_label",
               "n_heads", "spread_decades", "handover"]
    if first.empty:
        return pd.DataFrame(columns=columns)
    handovers = events[events["kind"] == "handover"]
    flagged = set(zip(handovers["series"], handovers["metric"], strict=True))
    first["handover"] = [(s, m) in flagged for s, m in zip(first["series"], first["metric"],
                                                           strict=True)]

    def spread(onsets: pd.Series) -> float:
        positive = onsets[onsets > 0]
        if len(positive) < 2:
            return 0.0
        return float(np.log10(positive.max() / positive.min()))

    first["spread_decades"] = first.groupby("metric")["onset_tokens"].transform(spread)
    return first[columns].sort_values(["onset_tokens"]).reset_index(drop=True)
