"""Per-series report sections, remembered across rewrites of a report within one process.

``tracker demo`` rewrites its report each time a model lands. A series whose store and events
are unchanged gets byte for byte the same section, and its figures (about a hundred per model)
are most of a report's cost, so a finished section is kept, keyed by what it is drawn from:
the store file's bytes, the series' events, the metrics and the options.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import pandas as pd

from tracker import __version__
from tracker.store import SeriesStore

T = TypeVar("T")

#: Sections kept (a section of an organism model is ~5 MB of inline PNGs).
CAPACITY = 16


def store_digest(store: SeriesStore) -> str:
    """Digest of a store file's path and bytes (and tracker's version, which draws from it)."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{__version__}\0{store.path.resolve()}\0".encode())
    with open(store.path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def section_key(store: SeriesStore, events: pd.DataFrame, metrics: Sequence[str],
                n_panels: int) -> str:
    """Digest of everything one series' section is drawn from.

    Args:
        store: The series store (its file is hashed whole: results, provenance, events).
        events: The events shown for this series (passed in or read from the store).
        metrics: The report's metric specs.
        n_panels: Checkpoints per small-multiples heatmap.
    """
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{store_digest(store)}\0{n_panels}\0".encode())
    digest.update("\0".join(metrics).encode())
    digest.update(",".join(map(str, events.columns)).encode())
    if len(events):
        digest.update(pd.util.hash_pandas_object(events, index=False).to_numpy().tobytes())
    return digest.hexdigest()


class LruCache(Generic[T]):
    """The most recently used values by key, the oldest dropped past ``capacity``."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._values: OrderedDict[str, T] = OrderedDict()

    def get(self, key: str) -> T | None:
        """Return the value kept for ``key``, or None."""
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
        return value

    def put(self, key: str, value: T) -> None:
        """Keep a value, dropping the oldest past capacity."""
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self.capacity:
            self._values.popitem(last=False)

    def clear(self) -> None:
        """Forget every value."""
        self._values.clear()


#: Finished sections (figures filled in) by :func:`section_key`.
SectionCache = LruCache[str]


class StoreMemo(Generic[T]):
    """Values computed from one store's bytes alone, kept per process by :func:`store_digest`.

    For the report's across-series blocks, which are drawn again for every store at each
    rewrite: a store that has not changed is not analysed again. Callers must not modify a
    returned value (it is shared).
    """

    def __init__(self, compute: Callable[[SeriesStore], T], capacity: int = CAPACITY) -> None:
        self._compute = compute
        self._cache: LruCache[T] = LruCache(capacity)

    def __call__(self, store: SeriesStore) -> T:
        """Return ``compute(store)``, computed once per store content."""
        key = store_digest(store)
        value = self._cache.get(key)
        if value is None:
            value = self._compute(store)
            self._cache.put(key, value)
        return value


#: The process's sections (``render_report`` reads and fills it).
SECTIONS: LruCache[str] = LruCache()
