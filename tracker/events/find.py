"""Turn stored probe metrics into events (see :mod:`tracker.events.core`)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tracker.events.circuits import circuit_specs, role_swap_events
from tracker.events.core import DETECTOR, DetectOptions, SeriesSpec, find_in_series
from tracker.events.dormant import dormant_events
from tracker.events.io import write_events
from tracker.events.model import Event, events_frame
from tracker.events.scale import scale_table
from tracker.events.stages import store_stage_events
from tracker.store import Metric, SeriesStore


def _resolution(info: Metric) -> float | None:
    return None if info.resolution is None else float(info.resolution)


def _spec(info: Metric, values: np.ndarray, layer: int = -1, head: int = -1,
          errors: np.ndarray | None = None) -> SeriesSpec:
    finite = values[np.isfinite(values)]
    span = float(np.ptp(finite)) if finite.size else 0.0
    y = values[:, layer, head] if layer >= 0 else values
    se = None
    if errors is not None:
        own = errors[:, layer, head] if layer >= 0 else errors
        own = own[np.isfinite(own)]
        se = float(np.median(own)) if own.size else None
    return SeriesSpec(info.probe, info.name, y, layer, head, threshold=info.threshold,
                      higher_is_mechanism=info.higher_is_mechanism,
                      resolution=_resolution(info), span=span, standard_error=se)


def head_spec(store: SeriesStore, info: Metric, layer: int = -1,
              head: int = -1) -> SeriesSpec:
    """Return the series of one head (a scalar metric: ``layer = head = -1``) as tested.

    Carries the metric's threshold, resolution, orientation and its range over all heads
    (the ``span`` of :func:`~tracker.events.emergence.classify`), as :func:`store_specs` does.
    """
    return _spec(info, store.metric(info.probe, info.name), layer, head,
                 store.standard_error(info.probe, info.name))


def store_specs(store: SeriesStore) -> Iterator[SeriesSpec]:
    """Yield the series of a store that the emergence definition tests.

    Head metrics give one series per head; heads that never cross their threshold (or are
    above it throughout) cannot become or stop being the mechanism and are skipped. Scalar
    metrics are tested whole; unoriented ones (such as the loss) as changes.
    """
    for info in store.metric_infos():
        values = store.metric(info.probe, info.name)
        errors = store.standard_error(info.probe, info.name)
        if info.kind == "head":
            for layer in range(values.shape[1]):
                for head in range(values.shape[2]):
                    y = values[:, layer, head]
                    if info.threshold is not None:
                        above = y[np.isfinite(y)] >= info.threshold
                        if above.all() or not above.any():
                            continue
                    yield _spec(info, values, layer, head, errors)
        elif info.kind == "scalar" and values.ndim == 1:
            yield _spec(info, values, errors=errors)


class EventFinder:
    """Find events in one store with fixed options."""

    def __init__(self, options: DetectOptions | None = None) -> None:
        self.options = options or DetectOptions()

    @property
    def meta(self) -> dict[str, Any]:
        """What found the events, as recorded on ``/events`` next to them."""
        rule = asdict(self.options.rule)
        return {"emergence_detector": DETECTOR, "change_detector": DETECTOR,
                "axis": self.options.axis, "window": self.options.window,
                "fdr": self.options.fdr, "alpha": rule["alpha"],
                "character_rule": self.options.character.text}

    def find(self, store: SeriesStore) -> list[Event]:
        """Return every event in the store, sorted by midpoint step."""
        specs = itertools.chain(store_specs(store), circuit_specs(store))
        found = find_in_series(store.series_id, store.steps, specs, store.tokens_per_step,
                               self.options)
        return sorted(found + role_swap_events(store) + dormant_events(store)
                      + store_stage_events(store),
                      key=lambda e: (e.midpoint_step, e.kind, e.metric, e.layer, e.head))


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
                  options: DetectOptions | None = None,
                  known: Sequence[StoreEvents] = ()) -> tuple[list[StoreEvents], Any]:
    """Find events in each store, write them into it, and align mechanisms across the stores.

    What ``tracker detect`` and ``tracker demo`` both do.

    Args:
        paths: Series files.
        options: Detection options (defaults: :class:`DetectOptions`).
        known: Events this call's options already found in some of the stores, which have not
            changed since (the demo's earlier models): reused, not detected again.

    Returns:
        The events per store, in the order given, and the :func:`scale_table` of all of them.
    """
    import pandas as pd

    finder = EventFinder(options)
    reused = {Path(k.path).resolve(): k for k in known}
    found = []
    for path in paths:
        kept = reused.get(Path(path).resolve())
        if kept is None:
            store = SeriesStore(path)
            events = finder.find(store)
            write_events(path, events, finder.meta)
            kept = StoreEvents(Path(path), store.series_id, events_frame(events))
        found.append(kept)
    table = scale_table(pd.concat([f.frame for f in found], ignore_index=True))
    return found, table
