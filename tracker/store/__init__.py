"""HDF5 stores: per-step shards, a consolidated per-series file, schema validation."""

from tracker.metric import Metric
from tracker.store.consolidate import consolidate, writer_lock
from tracker.store.journal import Journal, RunRecord
from tracker.store.layout import SCHEMA_VERSION
from tracker.store.lock import LockBusyError, SweepLock
from tracker.store.reader import SeriesStore, default_variant
from tracker.store.shards import (
    ProbeResult,
    StepShard,
    list_shards,
    quarantine_shard,
    read_shard,
    shard_path,
    write_shard,
)

__all__ = [
    "SCHEMA_VERSION",
    "Metric",
    "ProbeResult",
    "SeriesStore",
    "StepShard",
    "Journal",
    "LockBusyError",
    "RunRecord",
    "SweepLock",
    "consolidate",
    "default_variant",
    "list_shards",
    "quarantine_shard",
    "read_shard",
    "shard_path",
    "write_shard",
    "writer_lock",
]
