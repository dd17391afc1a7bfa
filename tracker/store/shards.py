"""Per-step shard files: written once per step to a temporary file, then renamed atomically."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tracker import __version__
from tracker.errors import StoreError
from tracker.identity import variant_key
from tracker.metric import Metric
from tracker.store.atomic import write_hdf5_atomically
from tracker.store.layout import (
    KIND_SHARD,
    MIN_READABLE_SCHEMA,
    RESULTS,
    SCHEMA_VERSION,
    STATIC,
    shard_dir,
    shard_name,
)


@dataclass
class ProbeResult:
    """All metrics one probe variant produced at one step.

    Attributes:
        probe: Probe name.
        version: Probe version.
        config_json: Canonical JSON of the probe's config.
        config_hash: Hash of that JSON.
        metrics: What each metric is, by name (as the probe declared it).
        values: Each metric's value at this step, by name (float32).
        seconds: Time the probe took.
        static: Constants of the series the probe reports (the same at every step, such as a
            circuit graph's edge names), stored once per variant in its ``static`` group.
    """

    probe: str
    version: int
    config_json: str
    config_hash: str
    metrics: dict[str, Metric] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    static: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Variant key ``v{version}-{config hash}``."""
        return variant_key(self.version, self.config_hash)

    def add(self, metric: Metric, value: np.ndarray | float) -> None:
        """Record one metric's value (stored as float32)."""
        self.metrics[metric.name] = metric
        self.values[metric.name] = np.asarray(value, dtype=np.float32)


@dataclass
class StepShard:
    """Everything stored for one (series, step)."""

    series_id: str
    tokens_per_step: int
    step: int
    tokens: int
    revision: str
    checkpoint_hash: str
    results: dict[tuple[str, str], ProbeResult] = field(default_factory=dict)
    #: Step of the previous checkpoint the sweep found holding identical weights, else -1.
    repeats_step: int = -1

    def has(self, probe: str, key: str) -> bool:
        """Whether this step holds a result for (probe, variant key)."""
        return (probe, key) in self.results


def check_schema(attrs: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Raise StoreError if a file's schema version is missing or newer than this package's."""
    version = attrs.get("schema_version")
    if version is None:
        raise StoreError(f"{path}: not a tracker store (no schema_version attribute)")
    if int(version) > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written by schema version {int(version)}, newer than this tracker "
            f"({__version__}, schema {SCHEMA_VERSION}); upgrade tracker to read it"
        )
    if int(version) < MIN_READABLE_SCHEMA:
        raise StoreError(f"{path}: schema version {int(version)} is too old to read")


def write_static(variant: h5py.Group, static: Mapping[str, np.ndarray]) -> None:
    """Write a variant's constants of the series (strings as UTF-8 text) into ``static``."""
    if not static:
        return
    group = variant.create_group(STATIC)
    for name, value in sorted(static.items()):
        array = np.asarray(value)
        if array.dtype.kind in "USO":
            group.create_dataset(name, data=array.astype(object), dtype=h5py.string_dtype())
        else:
            group.create_dataset(name, data=array)


def read_static(group: h5py.Group) -> dict[str, np.ndarray]:
    """Read a ``static`` group written by :func:`write_static` (text back as ``str``)."""
    out = {}
    for name, dset in group.items():
        value = dset[()]
        if h5py.check_string_dtype(dset.dtype) is not None:
            value = np.array([v.decode() if isinstance(v, bytes) else str(v)
                              for v in np.ravel(value)], dtype=object).reshape(dset.shape)
        out[name] = np.asarray(value)
    return out


def shard_path(store_path: str | os.PathLike[str], step: int) -> Path:
    """Path of the shard of ``step`` for the store at ``store_path``."""
    return Path(shard_dir(str(store_path))) / shard_name(step)


def read_shard(path: str | os.PathLike[str]) -> StepShard:
    """Read a shard file.

    Raises:
        StoreError: If the file is unreadable or from a newer schema.
    """
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise StoreError(f"{path}: unreadable shard ({exc})") from exc
    try:
        with handle as f:
            check_schema(f.attrs, path)
            shard = StepShard(
                series_id=str(f.attrs["series_id"]),
                tokens_per_step=int(f.attrs["tokens_per_step"]),
                step=int(f.attrs["step"]),
                tokens=int(f.attrs["tokens"]),
                revision=str(f.attrs["revision"]),
                checkpoint_hash=str(f.attrs["checkpoint_hash"]),
                repeats_step=int(f.attrs.get("repeats_step", -1)),
            )
            for probe, group in f.get(RESULTS, {}).items():
                for key, variant in group.items():
                    result = ProbeResult(
                        probe=probe,
                        version=int(variant.attrs["probe_version"]),
                        config_json=str(variant.attrs["config_json"]),
                        config_hash=str(variant.attrs["config_hash"]),
                        seconds=float(variant.attrs.get("seconds", 0.0)),
                    )
                    for name, item in variant.items():
                        if name == STATIC:
                            result.static = read_static(item)
                        else:
                            result.add(Metric.from_attrs(name, item.attrs), item[()])
                    shard.results[(probe, key)] = result
    except StoreError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise StoreError(f"{path}: unreadable shard ({exc})") from exc
    return shard


def write_shard(store_path: str | os.PathLike[str], shard: StepShard) -> Path:
    """Write a step's shard atomically (built in memory, then temporary file, fsync, rename).

    A kill at any moment leaves either the previous shard or the new one, never a torn file.

    Raises:
        StoreError: If the disk refuses the write (full, read-only), naming the step.
    """
    final = shard_path(store_path, shard.step)
    final.parent.mkdir(parents=True, exist_ok=True)

    def fill(f: h5py.File) -> None:
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["package_version"] = __version__
        f.attrs["kind"] = KIND_SHARD
        f.attrs["series_id"] = shard.series_id
        f.attrs["tokens_per_step"] = shard.tokens_per_step
        f.attrs["step"] = shard.step
        f.attrs["tokens"] = shard.tokens
        f.attrs["revision"] = shard.revision
        f.attrs["checkpoint_hash"] = shard.checkpoint_hash
        f.attrs["repeats_step"] = shard.repeats_step
        f.attrs["written_at"] = time.time()
        results = f.create_group(RESULTS)
        for (probe, key), result in sorted(shard.results.items()):
            variant = results.require_group(probe).create_group(key)
            variant.attrs["probe"] = probe
            variant.attrs["probe_version"] = result.version
            variant.attrs["config_json"] = result.config_json
            variant.attrs["config_hash"] = result.config_hash
            variant.attrs["seconds"] = result.seconds
            for name, metric in result.metrics.items():
                dset = variant.create_dataset(name, data=result.values[name])
                dset.attrs.update(metric.attrs())
            write_static(variant, result.static)

    try:
        write_hdf5_atomically(final, fill)
    except OSError as exc:
        raise StoreError(f"{final}: cannot write the shard of step {shard.step} "
                         f"({os_error_text(exc)}); earlier shards are intact") from exc
    return final


def os_error_text(exc: OSError) -> str:
    """One line for an OS error (HDF5's own messages span several lines of buffer details)."""
    if exc.errno:
        return f"[Errno {exc.errno}] {os.strerror(exc.errno)}"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def list_shards(store_path: str | os.PathLike[str]) -> list[Path]:
    """Return the store's shard files sorted by step (temporary leftovers are ignored)."""
    folder = Path(shard_dir(str(store_path)))
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("step*.h5") if not p.name.startswith("."))


def remove_stale_temporaries(store_path: str | os.PathLike[str]) -> int:
    """Delete temporary shard files left by a killed writer; return how many."""
    folder = Path(shard_dir(str(store_path)))
    count = 0
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            count += 1
    return count



def quarantine_shard(path: str | os.PathLike[str]) -> Path:
    """Move an unreadable shard aside (``NAME.corrupt-TIME``) so its step is computed again.

    The file is kept for inspection; ``list_shards`` no longer sees it.
    """
    source = Path(path)
    target = source.with_name(f"{source.name}.corrupt-{int(time.time())}")
    os.replace(source, target)
    return target
