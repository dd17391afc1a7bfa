"""The character of a transition: its width, its largest checkpoint interval, abrupt or gradual.

Theory of copy-head emergence in softmax attention predicts an abrupt, first-order transition;
these attributes let the events say which transitions look like that. For every emergence,
fade or change (:mod:`tracker.events.core`):

* ``width_tokens``: tokens between the 10% and 90% points of the logistic step refitted on a
  fine grid of 48 widths and midpoints (:func:`tracker.detect.transition.refine_width`; the
  test's own grid has six widths, a factor ~1.9 apart, so the event's ``onset``/``end``, which
  stay the test's, are a coarser measure of the same thing);
* ``width_decades``: the same in decades of step, ``log10(end + 1) - log10(onset + 1)``;
* ``largest_share``: the share of the whole change (level after minus level before, as in
  :class:`~tracker.events.emergence.SeriesFinding`) that falls between one pair of consecutive
  checkpoints: the largest step of the measured values towards the change over the intervals
  from the last checkpoint before the 10% point to the first after the 90% point, divided by
  the change, clipped to [0, 1] (noise can push it past 1);
* ``character``: ``abrupt`` when ``largest_share >= min_abrupt_share`` (at least half the change
  falls in one checkpoint interval: the schedule does not resolve it, which a logistic of any
  width narrower than that interval gives) or ``width_decades <= max_abrupt_decades`` (a 10-90%
  width under a factor 1.26 in steps); ``gradual`` otherwise.

The fitted width is bounded by the transition test's localized widths
(:class:`~tracker.detect.transition.TransitionConfig`, at most a fifth of the axis), so a
change slower than that is left to the smooth null and is not an event at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class CharacterRule:
    """When a transition counts as abrupt (module docstring).

    Attributes:
        min_abrupt_share: Share of the change in one checkpoint interval that makes it abrupt.
        max_abrupt_decades: 10-90% width, in decades of step, at or under which it is abrupt.
    """

    min_abrupt_share: float = 0.5
    max_abrupt_decades: float = 0.1

    @property
    def text(self) -> str:
        """The rule in one line (recorded with the events)."""
        return (f"abrupt if >= {self.min_abrupt_share:g} of the change falls in one checkpoint "
                f"interval or the 10-90% width is <= {self.max_abrupt_decades:g} decades of step")

    def label(self, width_decades: float, largest_share: float) -> str:
        """``abrupt``, ``gradual``, or '' when neither number is known."""
        if not (np.isfinite(width_decades) or np.isfinite(largest_share)):
            return ""
        if (np.isfinite(largest_share) and largest_share >= self.min_abrupt_share) or (
                np.isfinite(width_decades) and width_decades <= self.max_abrupt_decades):
            return "abrupt"
        return "gradual"


def largest_share(y: np.ndarray, onset_index: int, end_index: int, change: float) -> float:
    """Share of ``change`` in the largest interval step of ``y`` across a transition.

    Args:
        y: The values the transition was fitted to (outliers removed).
        onset_index: Index of the first point at or after the 10% point.
        end_index: Index of the last point at or before the 90% point.
        change: Level after minus level before.

    Returns:
        In [0, 1]; NaN when the change is 0 or not finite, or there is no interval.
    """
    if not np.isfinite(change) or change == 0:
        return float("nan")
    lo = max(min(onset_index, end_index) - 1, 0)
    hi = min(max(onset_index, end_index) + 1, len(y) - 1)
    steps = np.diff(np.asarray(y, float)[lo: hi + 1]) * np.sign(change)
    if not steps.size:
        return float("nan")
    return float(np.clip(steps.max() / abs(change), 0.0, 1.0))


def width_decades(onset_step: float, end_step: float) -> float:
    """10-90% width in decades of step (``log10(step + 1)``)."""
    return float(np.log10(max(end_step, 0.0) + 1.0) - np.log10(max(onset_step, 0.0) + 1.0))


def width_table(events: pd.DataFrame) -> pd.DataFrame:
    """Widths of every emergence and fade, summarised per (series, probe, metric, kind).

    Args:
        events: Events frame (``read_events_for`` of one or more stores).

    Returns:
        DataFrame (series, probe, metric, kind, events, abrupt, gradual, median_width_decades,
        min_width_decades, max_width_decades, median_width_tokens, median_largest_share);
        events without a character (stores written before it) are left out.
    """
    import pandas as pd

    columns = ["series", "probe", "metric", "kind", "events", "abrupt", "gradual",
               "median_width_decades", "min_width_decades", "max_width_decades",
               "median_width_tokens", "median_largest_share"]
    if "character" not in events.columns:
        return pd.DataFrame(columns=columns)
    changes = events[events["kind"].isin(["emergence", "fade"]) & (events["character"] != "")]
    rows = []
    for (series, probe, metric, kind), group in changes.groupby(
            ["series", "probe", "metric", "kind"], sort=True):
        width = group["width_decades"]
        rows.append({"series": series, "probe": probe, "metric": metric, "kind": kind,
                     "events": len(group), "abrupt": int((group["character"] == "abrupt").sum()),
                     "gradual": int((group["character"] == "gradual").sum()),
                     "median_width_decades": float(width.median()),
                     "min_width_decades": float(width.min()),
                     "max_width_decades": float(width.max()),
                     "median_width_tokens": float(group["width_tokens"].median()),
                     "median_largest_share": float(group["largest_share"].median())})
    return pd.DataFrame(rows, columns=columns)
