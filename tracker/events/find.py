"""Turn stored probe metrics into events.

Events are the emergence and fading of each head or metric, phase transitions where several
metrics change together, and handovers between heads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tracker.detect import DEFAULT_DETECTOR, ChangePoint, Detector, get_detector, make_x_axis
from tracker.detect.base import XAxis
from tracker.detect.registry import detector_names
from tracker.events.io import write_events
from tracker.events.model import Event, events_frame
from tracker.events.scale import scale_table
from tracker.store import Metric, SeriesStore

#: Detector that locates emergence (it fits onset, midpoint and end) when available.
EMERGENCE_DETECTOR = "sigmoid"


@dataclass(frozen=True)
class Change:
    """A change on the detector's axis, merged from one or more change points."""

    onset_x: float
    midpoint_x: float
    end_x: float
    magnitude: float
    confidence: float
    onset_index: int
    end_index: int


@dataclass
class DetectOptions:
    """How events are found.

    Attributes:
        emergence_detector: Detector for per-metric rises and falls (default: ``sigmoid`` if
            registered, else the default detector).
        change_detector: Detector whose change points feed phase transitions.
        axis: x axis: ``log_step``, ``tokens`` or ``index``.
        window: Width on the axis within which change points coincide (log10 steps: 0.25 is
            a factor of 1.8 in steps).
        min_members: Distinct metrics a phase transition needs.
        min_relative: For metrics without a threshold, the smallest change that counts, as a
            fraction of the metric's whole range (all heads, all steps): a detector may accept
            a tiny but clean rise that no researcher would call emergence.
    """

    emergence_detector: str | None = None
    change_detector: str | None = None
    axis: XAxis = "log_step"
    window: float = 0.25
    min_members: int = 2
    min_relative: float = 0.25


def x_to_step(x: float, axis: str, steps: np.ndarray, tokens_per_step: int) -> float:
    """Map a location on the detector axis back to a (fractional) training step."""
    if axis == "log_step":
        return float(10.0**x - 1.0)
    if axis == "tokens":
        return float(x / max(tokens_per_step, 1))
    return float(np.interp(x, np.arange(len(steps)), steps.astype(float)))


def merge_changes(points: Sequence[ChangePoint], x: np.ndarray) -> list[Change]:
    """Merge change points into monotone changes.

    Points carrying a fitted onset become one change each. Plain change points in a row with
    the same sign merge into one change (a gradual rise split by segmentation into steps),
    running from the checkpoint before the first point to the last point.
    """
    changes: list[Change] = []
    run: list[ChangePoint] = []

    def close() -> None:
        if not run:
            return
        first, last = run[0], run[-1]
        start = max(first.index - 1, 0)
        weights = np.abs([p.size for p in run])
        mid = float(np.average([x[p.index] for p in run], weights=weights + 1e-12))
        changes.append(Change(float(x[start]), mid, float(x[last.index]),
                              float(sum(p.size for p in run)),
                              float(max(p.confidence for p in run)), start, last.index))
        run.clear()

    for point in points:
        if point.onset is not None:
            close()
            o = point.onset
            i_on = int(np.searchsorted(x, o.onset))
            i_end = min(int(np.searchsorted(x, o.end)), len(x) - 1)
            changes.append(Change(o.onset, o.midpoint, o.end, o.magnitude, point.confidence,
                                  min(i_on, len(x) - 1), i_end))
            continue
        if run and np.sign(point.size) != np.sign(run[-1].size):
            close()
        run.append(point)
    close()
    return changes


def _axis_value(step: float, store: SeriesStore, axis: str) -> float:
    """Map a (fractional) step to the detector axis."""
    if axis == "log_step":
        return float(np.log10(step + 1.0))
    if axis == "tokens":
        return float(step * store.tokens_per_step)
    return float(np.interp(step, store.steps.astype(float), np.arange(len(store.steps))))


def _level(y: np.ndarray, lo: int, hi: int) -> float:
    window = y[max(lo, 0): max(hi, lo + 1)]
    window = window[np.isfinite(window)]
    return float(np.median(window)) if len(window) else float("nan")


class EventFinder:
    """Find events in one store with fixed detectors and options."""

    def __init__(self, options: DetectOptions | None = None) -> None:
        self.options = options or DetectOptions()
        name = self.options.emergence_detector
        if name is None:
            name = EMERGENCE_DETECTOR if EMERGENCE_DETECTOR in detector_names() else None
        self.emergence: Detector = get_detector(name)
        self.changes: Detector = get_detector(self.options.change_detector or DEFAULT_DETECTOR)

    @property
    def meta(self) -> dict[str, Any]:
        """What found the events, as recorded on ``/events`` next to them."""
        return {"emergence_detector": f"{self.emergence.name}:{self.emergence.key}",
                "change_detector": f"{self.changes.name}:{self.changes.key}",
                "axis": self.options.axis, "window": self.options.window}

    def find(self, store: SeriesStore) -> list[Event]:
        """Return every event in the store, sorted by midpoint step."""
        x = make_x_axis(store.steps, store.tokens, self.options.axis)
        events: list[Event] = []
        points: list[tuple[str, float, float]] = []  # unoriented metrics: (metric, x, conf)
        for info in store.metric_infos():
            values = store.metric(info.probe, info.name)
            finite = values[np.isfinite(values)]
            span = float(finite.max() - finite.min()) if finite.size else 0.0
            if info.kind == "head":
                events.extend(self._head_events(store, info, values, x, span))
            elif info.kind == "scalar" and info.higher_is_mechanism is not None:
                events.extend(self._series_events(store, info, values, x, -1, -1, span))
            elif info.kind == "scalar" and np.isfinite(values).sum() >= 4:
                for point in self.changes.detect(values, x):
                    points.append((info.name, float(x[point.index]), point.confidence))
        for event in events:
            points.append((event.metric, _axis_value(event.midpoint_step, store, self.options.axis),
                           event.confidence))
        events.extend(self._phase_transitions(store, points, x))
        events.extend(self._handovers(events))
        return sorted(events, key=lambda e: (e.midpoint_step, e.kind, e.metric, e.layer, e.head))

    def _head_events(self, store: SeriesStore, info: Metric, values: np.ndarray,
                     x: np.ndarray, span: float) -> list[Event]:
        out: list[Event] = []
        for layer in range(values.shape[1]):
            for head in range(values.shape[2]):
                y = values[:, layer, head]
                finite = y[np.isfinite(y)]
                if info.threshold is not None and len(finite):
                    # A head that never crosses its threshold cannot become (or stop being)
                    # the mechanism; skipping it keeps detection cheap on large models.
                    above = finite >= info.threshold
                    if above.all() or not above.any():
                        continue
                out.extend(self._series_events(store, info, y, x, layer, head, span))
        return out

    def _changes(self, y: np.ndarray, x: np.ndarray) -> list[Change]:
        """Monotone changes of one series.

        Segmentation splits the series into monotone runs (so a rise then a fall are two
        changes); each run is refined by the emergence detector on the stretch between its
        neighbours, which fits onset, midpoint and end. Without any change point the
        emergence detector gets the whole series.
        """
        finite = np.flatnonzero(np.isfinite(y))
        y, x = y[finite], x[finite]
        if len(y) < 4:
            return []
        runs = merge_changes(self.changes.detect(y, x), x)
        if not runs:
            return merge_changes(self.emergence.detect(y, x), x)
        refined = []
        for i, run in enumerate(runs):
            lo = runs[i - 1].end_index if i > 0 else 0
            hi = runs[i + 1].onset_index if i + 1 < len(runs) else len(y) - 1
            best = run
            if hi - lo >= 5:
                fits = merge_changes(self.emergence.detect(y[lo:hi + 1], x[lo:hi + 1]),
                                     x[lo:hi + 1])
                same = [f for f in fits if np.sign(f.magnitude) == np.sign(run.magnitude)]
                if same:
                    fit = max(same, key=lambda f: abs(f.magnitude))
                    best = Change(fit.onset_x, fit.midpoint_x, fit.end_x, fit.magnitude,
                                  max(fit.confidence, run.confidence), fit.onset_index + lo,
                                  fit.end_index + lo)
            refined.append(best)
        return refined

    def _series_events(self, store: SeriesStore, info: Metric, y: np.ndarray,
                       x: np.ndarray, layer: int, head: int, span: float) -> list[Event]:
        if info.higher_is_mechanism is None or np.isfinite(y).sum() < 4:
            return []
        sign = 1.0 if info.higher_is_mechanism else -1.0
        finite_y = y[np.isfinite(y)]
        out = []
        for change in self._changes(y, x):
            before = _level(finite_y, change.onset_index - 2, change.onset_index + 1)
            after = _level(finite_y, change.end_index, change.end_index + 3)
            rising = sign * change.magnitude > 0
            if info.threshold is not None:
                thr = sign * info.threshold
                crossed_up = sign * before < thr <= sign * after
                crossed_down = sign * after < thr <= sign * before
                if not (crossed_up if rising else crossed_down):
                    continue
            elif abs(change.magnitude) < self.options.min_relative * span:
                continue
            out.append(self._event(store, "emergence" if rising else "fade", info.probe,
                                   info.name, layer, head, change, x))
        return out

    def _event(self, store: SeriesStore, kind: str, probe: str, metric: str, layer: int,
               head: int, change: Change, x: np.ndarray, detector: Detector | None = None,
               members: str = "") -> Event:
        axis, per_step = self.options.axis, store.tokens_per_step
        onset, mid, end = (min(max(x_to_step(v, axis, store.steps, per_step), 0.0),
                               float(store.steps[-1]))
                           for v in (change.onset_x, change.midpoint_x, change.end_x))
        det = detector or self.emergence
        return Event(store.series_id, kind, probe, metric, layer, head, onset, mid, end,
                     onset * per_step, mid * per_step, end * per_step, change.magnitude,
                     float(np.clip(change.confidence, 0.0, 1.0)), f"{det.name}:{det.key}",
                     members)

    def _phase_transitions(self, store: SeriesStore, points: list[tuple[str, float, float]],
                           x: np.ndarray) -> list[Event]:
        """Group changes of distinct metrics whose locations fall within one window."""
        out: list[Event] = []
        points = sorted(points, key=lambda p: p[1])
        group: list[tuple[str, float, float]] = []
        for point in [*points, ("", np.inf, 0.0)]:
            if group and point[1] - group[0][1] > self.options.window:
                metrics = sorted({p[0] for p in group})
                if len(metrics) >= self.options.min_members:
                    xs = [p[1] for p in group]
                    change = Change(min(xs), float(np.median(xs)), max(xs), 0.0,
                                    float(np.mean([p[2] for p in group])), 0, 0)
                    first: dict[str, float] = {}
                    for metric, where, _ in group:
                        first.setdefault(metric, x_to_step(where, self.options.axis, store.steps,
                                                           store.tokens_per_step))
                    members = "; ".join(f"{m}@{first[m]:.0f}" for m in metrics)
                    out.append(self._event(store, "phase_transition", "", "+".join(metrics), -1,
                                           -1, change, x, self.changes, members))
                group = []
            group.append(point)
        return out

    def _handovers(self, events: list[Event]) -> list[Event]:
        """Pair a head's fade with another head's emergence of the same metric nearby.

        Nearby means within ``window`` decades of step (log10), whatever the detector axis.
        """
        out = []
        window = self.options.window
        for fade in (e for e in events if e.kind == "fade" and e.layer >= 0):
            for rise in events:
                if (rise.kind == "emergence" and rise.metric == fade.metric
                        and rise.head_label != fade.head_label
                        and abs(np.log10(rise.midpoint_step + 1)
                                - np.log10(fade.midpoint_step + 1)) <= window):
                    out.append(Event(
                        fade.series, "handover", fade.probe, fade.metric, rise.layer, rise.head,
                        min(fade.onset_step, rise.onset_step),
                        (fade.midpoint_step + rise.midpoint_step) / 2,
                        max(fade.end_step, rise.end_step),
                        min(fade.onset_tokens, rise.onset_tokens),
                        (fade.midpoint_tokens + rise.midpoint_tokens) / 2,
                        max(fade.end_tokens, rise.end_tokens),
                        rise.magnitude, min(fade.confidence, rise.confidence), rise.detector,
                        f"{fade.head_label}->{rise.head_label}"))
        return out


def find_events(store: SeriesStore, options: DetectOptions | None = None) -> list[Event]:
    """Find all events in a store (see :class:`EventFinder`)."""
    return EventFinder(options).find(store)


@dataclass(frozen=True)
class StoreEvents:
    """The events found in one store by :func:`detect_stores`.

    Attributes:
        path: The series file (its ``/events`` now holds them).
        series_id: The store's series.
        frame: The events as a DataFrame (:func:`~tracker.events.events_frame`).
    """

    path: Path
    series_id: str
    frame: Any


def detect_stores(paths: Sequence[str | os.PathLike[str]],
                  options: DetectOptions | None = None) -> tuple[list[StoreEvents], Any]:
    """Find events in each store, write them into it, and align mechanisms across the stores.

    What ``tracker detect`` and ``tracker demo`` both do.

    Args:
        paths: Series files.
        options: Detection options (defaults: :class:`DetectOptions`).

    Returns:
        The events per store, in the order given, and the :func:`scale_table` of all of them.
    """
    import pandas as pd

    finder = EventFinder(options)
    found = []
    for path in paths:
        store = SeriesStore(path)
        events = finder.find(store)
        write_events(path, events, finder.meta)
        found.append(StoreEvents(Path(path), store.series_id, events_frame(events)))
    table = scale_table(pd.concat([f.frame for f in found], ignore_index=True))
    return found, table
