"""Event records and their tabular form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

#: Kinds of stored events.
EVENT_KINDS = ("emergence", "fade", "phase_transition", "handover")


@dataclass(frozen=True)
class Event:
    """One finding over training.

    Attributes:
        series: Series id.
        kind: ``emergence`` (low -> high), ``fade`` (high -> low), ``phase_transition``
            (change points of several metrics that coincide) or ``handover`` (a mechanism
            moving from one head to another).
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
        members: For composite events, the member metrics/heads with their steps.
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

    @property
    def head_label(self) -> str:
        """``L{layer}H{head}``, or '' for a model-level metric."""
        return f"L{self.layer}H{self.head}" if self.layer >= 0 else ""


EVENT_COLUMNS = tuple(f.name for f in fields(Event))
STRING_COLUMNS = ("series", "kind", "probe", "metric", "detector", "members")
INT_COLUMNS = ("layer", "head")


def events_frame(events: list[Event]):  # -> pandas.DataFrame
    """Turn events into a tidy DataFrame with one row per event (columns ``EVENT_COLUMNS``)."""
    import pandas as pd

    frame = pd.DataFrame([asdict(e) for e in events], columns=list(EVENT_COLUMNS))
    for column in INT_COLUMNS:
        frame[column] = frame[column].astype(np.int64)
    return frame


def step_from_log(x: float) -> float:
    """Invert the default axis: log10(step + 1) -> step."""
    return float(10.0**x - 1.0)
