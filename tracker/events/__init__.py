"""Events found in stored metrics.

Emergence, fading, phase transitions, handovers, and their alignment across model scale.
"""

from tracker.events.find import (
    DetectOptions,
    EventFinder,
    StoreEvents,
    detect_stores,
    find_events,
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

__all__ = [
    "EVENT_COLUMNS",
    "DetectOptions",
    "Event",
    "EventFinder",
    "StoreEvents",
    "detect_stores",
    "events_frame",
    "events_meta",
    "find_events",
    "normalize_events",
    "read_events",
    "read_events_for",
    "read_store_events",
    "scale_table",
    "timeline",
    "write_events",
]
