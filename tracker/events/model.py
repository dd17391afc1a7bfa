"""Event records and their tabular form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from tracker.labels import head_label

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Event:
    """One finding over training.

    Attributes:
        series: Series id.
        kind: ``emergence`` (low -> high), ``fade`` (high -> low), ``phase_transition``
            (change points of several metrics that coincide), ``handover`` (a mechanism
            moving from one head to another); also ``role_swap`` (circuit roles) and ``stage``
            (a developmental-stage boundary of the LLC curve, :mod:`tracker.events.stages`).
        probe: Probe that produced the metric ('' for multi-metric events).
        metric: Metric name (mechanism); for phase transitions, '+'-joined member metrics.
        layer: Layer of the head, or -1 for model-level metrics.
        head: Head index, or -1.
        onset_step: Step where the change starts (interpolated on the detector's axis).
        midpoint_step: Step of the half-way point.
        end_step: Step where it completes.
        onset_tokens: Tokens seen at onset (``onset_step * tokens_per_step``).
        midpoint_tokens: Tokens at the midpoint.
        end_tokens: Tokens at the end.
        magnitude: Signed change of the metric.
        confidence: In [0, 1].
        detector: ``name:key`` of the detector that found it.
        members: For composite events, the member metrics/heads with their steps and
            evidence.
        p_value: p-value of the transition test against the smooth null (for a composite
            event, the largest of its members'); NaN in stores written before it existed.
        evidence: How the event was judged (test statistic, null model, AR(1) coefficient).
        width_tokens: Tokens between the 10% and 90% points (single-series events; NaN for
            composite events and in stores written before it existed), as are the next three;
            see :mod:`tracker.events.character`.
        width_decades: The 10-90% width in decades of step.
        largest_share: Share of the change that falls in its largest checkpoint interval.
        character: ``abrupt`` or ``gradual`` by the rule recorded with the events ('' if none).
    """

    series: str
    kind: str
    probe: str
    metric: str
    layer: int
    head: int
    onset_step: float
    midpoint_step: float
    end_step: float
    onset_tokens: float
    midpoint_tokens: float
    end_tokens: float
    magnitude: float
    confidence: float
    detector: str
    members: str = ""
    p_value: float = float("nan")
    evidence: str = ""
    width_tokens: float = float("nan")
    width_decades: float = float("nan")
    largest_share: float = float("nan")
    character: str = ""

    @property
    def head_label(self) -> str:
        """``L{layer}H{head}``, or '' for a model-level metric."""
        return head_label(self.layer, self.head)


EVENT_COLUMNS = tuple(f.name for f in fields(Event))
STRING_COLUMNS = ("series", "kind", "probe", "metric", "detector", "members", "evidence",
                  "character")
#: Columns added after the first stores were written; older stores read them as NaN or ''.
OPTIONAL_COLUMNS = ("p_value", "evidence", "width_tokens", "width_decades", "largest_share",
                    "character")
INT_COLUMNS = ("layer", "head")


def events_frame(events: list[Event]) -> pd.DataFrame:
    """Turn events into a tidy DataFrame with one row per event (columns ``EVENT_COLUMNS``)."""
    import pandas as pd

    frame = pd.DataFrame([asdict(e) for e in events], columns=list(EVENT_COLUMNS))
    for column in INT_COLUMNS:
        frame[column] = frame[column].astype(np.int64)
    return frame


def normalize_events(frame: Any | None, series: str | None = None) -> pd.DataFrame:
    """Give an events frame every column of :class:`Event`, stable dtypes and a stable order.

    Args:
        frame: Events (columns may be missing, e.g. hand-made or from an older reader), or None.
        series: Series id to fill in where ``series`` is empty.

    Returns:
        A frame with :data:`EVENT_COLUMNS` first (extra columns kept after them), sorted by
        series, metric and onset.
    """
    import pandas as pd

    frame = pd.DataFrame() if frame is None else frame.copy()
    for column in EVENT_COLUMNS:
        if column not in frame.columns:
            frame[column] = "" if column in STRING_COLUMNS else (
                -1 if column in INT_COLUMNS else float("nan"))
    if series is not None:
        frame["series"] = frame["series"].replace("", series).fillna(series)
    for column in EVENT_COLUMNS:
        if column in INT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(-1).astype(int)
        elif column in STRING_COLUMNS:
            frame[column] = frame[column].fillna("").astype(str)
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    extra = [c for c in frame.columns if c not in EVENT_COLUMNS]
    frame = frame[list(EVENT_COLUMNS) + extra]
    return frame.sort_values(["series", "metric", "onset_tokens"], kind="stable",
                             ignore_index=True)
