"""Names and constants of the HDF5 store layout (described for machines in ``schemas/``)."""

from __future__ import annotations

#: Layout version written to every file. Readers accept this version and older ones.
#: History: 1 = checkpoints and results; 2 = adds /events (tracker detect); 3 = adds a
#: variant's optional ``static`` group (constants of the series, e.g. a circuit graph's edges).
SCHEMA_VERSION = 3
#: Oldest layout version readers still understand.
MIN_READABLE_SCHEMA = 1

KIND_SHARD = "shard"
KIND_SERIES = "series"

CHECKPOINTS = "checkpoints"
RESULTS = "results"
EVENTS = "events"
#: Subgroup of a probe variant holding constants of the series (no step axis).
STATIC = "static"

#: Groups of a consolidated file that shards do not produce; consolidation keeps them.
PRESERVED_GROUPS = (EVENTS,)


def shard_dir(store_path: str) -> str:
    """Folder holding a store's per-step shards."""
    return f"{store_path}.shards"


def shard_name(step: int) -> str:
    """File name of the shard of one step (zero-padded so names sort by step)."""
    return f"step{step:09d}.h5"

