"""Events found in stored metrics.

Emergence, fading, phase transitions, handovers, and their alignment across model scale.
"""

from tracker.events.core import DetectOptions, SeriesSpec, find_in_series
from tracker.events.emergence import EmergenceRule, SeriesFinding, classify
from tracker.events.find import (
    EventFinder,
    StoreEvents,
    detect_stores,
    find_events,
    head_spec,
    store_specs,
)
from tracker.events.io import (
    events_meta,
    read_events,
    read_events_for,
    read_store_events,
    write_events,
)
from tracker.events.model import EVENT_COLUMNS, Event, events_frame, normalize_events
from tracker.events.scale import scale_table, timeline
from tracker.events.tabular import detect_arrays, detect_csv

__all__ = [
    "EVENT_COLUMNS",
    "DetectOptions",
    "EmergenceRule",
    "SeriesFinding",
    "SeriesSpec",
    "classify",
    "detect_arrays",
    "detect_csv",
    "find_in_series",
    "Event",
    "EventFinder",
    "StoreEvents",
    "detect_stores",
    "events_frame",
    "events_meta",
    "find_events",
    "head_spec",
    "store_specs",
    "normalize_events",
    "read_events",
    "read_events_for",
    "read_store_events",
    "scale_table",
    "timeline",
    "write_events",
]
