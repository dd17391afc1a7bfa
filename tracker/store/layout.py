"""Names and constants of the HDF5 store layout (described for machines in ``schemas/``)."""

from __future__ import annotations

#: Layout version written to every file. Readers accept this version and older ones.
#: History: 1 = checkpoints and results; 2 = adds /events (tracker detect).
SCHEMA_VERSION = 2
#: Oldest layout version readers still understand.
MIN_READABLE_SCHEMA = 1

KIND_SHARD = "shard"
KIND_SERIES = "series"

CHECKPOINTS = "checkpoints"
RESULTS = "results"
EVENTS = "events"

#: Groups of a consolidated file that shards do not produce; consolidation keeps them.
PRESERVED_GROUPS = (EVENTS,)


def shard_dir(store_path: str) -> str:
    """Folder holding a store's per-step shards."""
    return f"{store_path}.shards"


def shard_name(step: int) -> str:
    """File name of the shard of one step (zero-padded so names sort by step)."""
    return f"step{step:09d}.h5"

