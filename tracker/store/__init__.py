"""HDF5 stores: per-step shards, a consolidated per-series file, schema validation."""

from tracker.store.consolidate import consolidate, writer_lock
from tracker.store.layout import SCHEMA_VERSION
from tracker.store.reader import MetricInfo, SeriesStore
from tracker.store.shards import (
    MetricValue,
    ProbeResult,
    StepShard,
    list_shards,
    read_shard,
    shard_path,
    write_shard,
)

__all__ = [
    "SCHEMA_VERSION",
    "MetricInfo",
    "MetricValue",
    "ProbeResult",
    "SeriesStore",
    "StepShard",
    "consolidate",
    "list_shards",
    "read_shard",
    "shard_path",
    "write_shard",
    "writer_lock",
]
