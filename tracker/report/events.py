"""The one place that reads detected events for plots, reports and W&B.

Events are written into the store's ``/events`` group by ``tracker.events`` (built
separately). Everything here goes through :func:`read_store_events`, so adapting to that
package's final interface means changing this module only.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

#: Columns of an events frame, with the fill value used when a reader leaves one out.
EVENT_COLUMNS: dict[str, Any] = {
    "series": "",
    "kind": "emergence",
    "metric": "",
    "probe": "",
    "layer": -1,
    "head": -1,
    "onset_step": float("nan"),
    "midpoint_step": float("nan"),
    "end_step": float("nan"),
    "onset_tokens": float("nan"),
    "midpoint_tokens": float("nan"),
    "end_tokens": float("nan"),
    "magnitude": float("nan"),
    "confidence": float("nan"),
    "detector": "",
    "members": "",
    "stale": False,
}


def empty_events() -> pd.DataFrame:
    """Return an events frame with every column and no rows."""
    return normalize_events(pd.DataFrame())


def normalize_events(frame: pd.DataFrame | None, series: str | None = None) -> pd.DataFrame:
    """Give an events frame every expected column, stable dtypes and a stable order.

    Args:
        frame: Events from a reader (columns may be missing), or None.
        series: Series id to fill in where the reader left ``series`` empty.

    Returns:
        A frame with :data:`EVENT_COLUMNS` first (extra columns kept after them), sorted by
        series, metric and onset.
    """
    frame = pd.DataFrame() if frame is None else frame.copy()
    for column, fill in EVENT_COLUMNS.items():
        if column not in frame.columns:
            frame[column] = fill
    if series is not None:
        frame["series"] = frame["series"].replace("", series).fillna(series)
    for column in ("layer", "head"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(-1).astype(int)
    for column in ("series", "kind", "metric", "probe", "detector", "members"):
        frame[column] = frame[column].fillna("").astype(str)
    frame["stale"] = frame["stale"].fillna(False).astype(bool)
    for column in ("onset_step", "midpoint_step", "end_step", "onset_tokens",
                   "midpoint_tokens", "end_tokens", "magnitude", "confidence"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    extra = [c for c in frame.columns if c not in EVENT_COLUMNS]
    frame = frame[list(EVENT_COLUMNS) + extra]
    return frame.sort_values(["series", "metric", "onset_tokens"], kind="stable",
                             ignore_index=True)


def _store_has_events(store_path: str | os.PathLike[str]) -> bool:
    import h5py

    from tracker.store.layout import EVENTS

    with h5py.File(store_path, "r") as handle:
        return EVENTS in handle


def _events_reader() -> Any | None:
    """Return ``tracker.events.read_events`` if that package exists yet, else None."""
    try:
        module = importlib.import_module("tracker.events")
    except ImportError:
        return None
    return getattr(module, "read_events", None)


def read_store_events(
    store_path: str | os.PathLike[str], series: str | None = None
) -> pd.DataFrame:
    """Read a store's detected events, or an empty frame when there are none.

    Args:
        store_path: Path of a consolidated series store.
        series: Series id used where the reader leaves ``series`` empty.

    Returns:
        A normalised events frame (see :data:`EVENT_COLUMNS`).
    """
    if not _store_has_events(store_path):
        return empty_events()
    reader = _events_reader()
    if reader is None:
        # Events were written by a newer tracker than this checkout; plots go on without them.
        log.warning("%s: has /events but tracker.events.read_events is unavailable", store_path)
        return empty_events()
    frame = reader(store_path)
    out = normalize_events(frame if frame is not None else None, series)
    # Kept as a column: DataFrame.attrs do not survive concatenating several stores.
    out["stale"] = bool(getattr(frame, "attrs", {}).get("stale", False))
    return out


def read_events_for(
    stores: Iterable[tuple[str | os.PathLike[str], str]],
) -> pd.DataFrame:
    """Read and concatenate events of several (store path, series id) pairs."""
    frames = [read_store_events(path, series) for path, series in stores]
    frames = [f for f in frames if len(f)]
    return normalize_events(pd.concat(frames, ignore_index=True)) if frames else empty_events()
