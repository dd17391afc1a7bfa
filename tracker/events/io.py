"""Store events in a series file (``/events``) and read them back as a DataFrame."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from tracker.errors import StoreError
from tracker.events.model import (
    EVENT_COLUMNS,
    INT_COLUMNS,
    OPTIONAL_COLUMNS,
    STRING_COLUMNS,
    Event,
    events_frame,
    normalize_events,
)
from tracker.store import SeriesStore, writer_lock
from tracker.store.atomic import write_hdf5_atomically
from tracker.store.layout import EVENTS, SCHEMA_VERSION
from tracker.store.shards import check_schema, os_error_text

if TYPE_CHECKING:
    import pandas as pd


def steps_digest(steps: np.ndarray) -> str:
    """Short hash of the steps events were computed on (to tell when they went stale)."""
    return hashlib.sha1(np.asarray(steps, dtype=np.int64).tobytes()).hexdigest()[:16]


def write_events(store_path: str | os.PathLike[str], events: list[Event],
                 meta: dict[str, Any]) -> None:
    """Replace the events of a series file, atomically and under the writer lock.

    The file is edited in memory and its new bytes renamed over the original, so a crash
    leaves the old file whole. Writing events raises the file's schema
    version to the current one (older layouts stay readable).

    Args:
        store_path: Series file.
        events: Events to store (all kinds).
        meta: Attributes recorded on ``/events`` (detectors, axis, window).
    """
    path = Path(store_path)
    store = SeriesStore(path)  # validates kind and schema before anything is touched
    with writer_lock(path):
        def fill(f: h5py.File) -> None:
            check_schema(f.attrs, path)
            if EVENTS in f:
                del f[EVENTS]
            group = f.create_group(EVENTS)
            group.attrs["n_steps"] = len(store.steps)
            group.attrs["steps_digest"] = steps_digest(store.steps)
            group.attrs["written_at"] = time.time()
            for key, value in meta.items():
                group.attrs[key] = value
            _write_columns(group, events)
            f.attrs["schema_version"] = SCHEMA_VERSION

        try:
            write_hdf5_atomically(path, fill, start_from=path, tag="events.tmp")
        except OSError as exc:
            raise StoreError(f"{path}: cannot write events ({os_error_text(exc)}); the "
                             "results are intact") from exc


def _write_columns(group: h5py.Group, events: list[Event]) -> None:
    text = h5py.string_dtype()
    for column in EVENT_COLUMNS:
        values = [getattr(e, column) for e in events]
        if column in STRING_COLUMNS:
            group.create_dataset(column, data=np.array(values, dtype=object), dtype=text,
                                 shape=(len(values),))
        elif column in INT_COLUMNS:
            group.create_dataset(column, data=np.array(values, dtype=np.int64),
                                 shape=(len(values),))
        else:
            group.create_dataset(column, data=np.array(values, dtype=np.float64),
                                 shape=(len(values),))


def read_events(store_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a series file's events as a DataFrame (``EVENT_COLUMNS``); empty if none.

    Raises:
        StoreError: If the file is not a readable series store.
    """
    store = SeriesStore(store_path)
    with h5py.File(store.path, "r") as f:
        if EVENTS not in f:
            return events_frame([])
        group = f[EVENTS]
        columns: dict[str, Any] = {}
        for column in EVENT_COLUMNS:
            if column not in group and column in OPTIONAL_COLUMNS:
                columns[column] = [""] * len(group["series"]) if column in STRING_COLUMNS \
                    else np.full(len(group["series"]), np.nan)
                continue
            if column not in group:
                raise StoreError(f"{store.path}: /events lacks column {column!r}")
            data = group[column][()]
            if column in STRING_COLUMNS:
                data = [v.decode() if isinstance(v, bytes) else str(v) for v in data]
            columns[column] = data
    events = [Event(**{c: columns[c][i] for c in EVENT_COLUMNS})
              for i in range(len(columns["series"]))]
    frame = events_frame(events)
    frame.attrs["stale"] = events_stale(store)
    return frame


def events_meta(store_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Attributes of ``/events`` (empty dict when there are none)."""
    with h5py.File(store_path, "r") as f:
        if EVENTS not in f:
            return {}
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f[EVENTS].attrs.items()}


def events_stale(store: SeriesStore) -> bool:
    """Whether the store gained or lost steps since its events were computed."""
    meta = events_meta(store.path)
    return bool(meta) and meta.get("steps_digest") != steps_digest(store.steps)


def read_store_events(
    store_path: str | os.PathLike[str], series: str | None = None
) -> pd.DataFrame:
    """Read a store's events for plots, reports and W&B: normalised, with a ``stale`` column.

    Args:
        store_path: Path of a consolidated series store.
        series: Series id used where an event's ``series`` is empty.

    Returns:
        A normalised frame (an empty one when the store holds no events); ``stale`` is a column
        because DataFrame attributes do not survive concatenating several stores.
    """
    frame = read_events(store_path)
    out = normalize_events(frame, series)
    out["stale"] = bool(frame.attrs.get("stale", False))
    return out


def read_events_for(stores: Iterable[tuple[str | os.PathLike[str], str]]) -> pd.DataFrame:
    """Read and concatenate the events of several (store path, series id) pairs."""
    import pandas as pd

    frames = [read_store_events(path, series) for path, series in stores]
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty_store_events()
    return normalize_events(pd.concat(frames, ignore_index=True))


def _empty_store_events() -> pd.DataFrame:
    """Return an events frame with every column (``stale`` included) and no rows."""
    out = normalize_events(None)
    out["stale"] = False
    return out
