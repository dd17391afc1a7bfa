"""Build the per-series file from its shards, under a lock so there is a single writer."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tracker import __version__
from tracker.errors import StoreError
from tracker.store.atomic import write_hdf5_atomically
from tracker.store.layout import (
    CHECKPOINTS,
    KIND_SERIES,
    PRESERVED_GROUPS,
    RESULTS,
    SCHEMA_VERSION,
)
from tracker.store.shards import (
    ProbeResult,
    StepShard,
    check_schema,
    list_shards,
    os_error_text,
    read_shard,
    write_static,
)

log = logging.getLogger(__name__)

_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


@contextmanager
def writer_lock(store_path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``STORE.lock`` so only one process writes the series file."""
    lock_path = f"{store_path}.lock"
    Path(lock_path).parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def consolidate(
    store_path: str | os.PathLike[str], provenance: dict[str, Any] | None = None
) -> Path:
    """Rewrite the per-series file from all shards, keeping groups shards don't produce.

    The new file is written beside the old one and renamed over it, so readers see either the
    old or the new file. Events and other preserved groups are copied from the old file.

    Args:
        store_path: Path of the series file.
        provenance: Facts about the source (kind, repo, cache) stored as JSON.

    Returns:
        The series file path.

    Raises:
        StoreError: If there are no shards, or shards disagree on the series.
    """
    path = Path(store_path)
    with writer_lock(path):
        shards = [read_shard(p) for p in list_shards(path)]
        if not shards:
            raise StoreError(f"{path}: no shards to consolidate")
        series = {s.series_id for s in shards}
        if len(series) > 1:
            raise StoreError(f"{path}: shards from several series {sorted(series)}")

        def fill(out: h5py.File) -> None:
            old_provenance = _copy_preserved(path, out)
            prov = json.dumps(provenance, sort_keys=True) if provenance else old_provenance
            _write_series(out, shards, prov or "{}", path)

        try:
            write_hdf5_atomically(path, fill)
        except OSError as exc:
            raise StoreError(f"{path}: cannot write the consolidated file ({os_error_text(exc)});"
                             " the shards are intact, run again once the cause is fixed") from exc
    return path


def _copy_preserved(path: Path, out: h5py.File) -> str | None:
    """Copy the groups shards do not produce from the old file; return its provenance.

    The consolidated file is a product of the shards, so a damaged one (truncated by a full
    disk, say) is rebuilt from them with a warning; what only it held (events) is lost and
    ``tracker detect`` (or the next scheduled sweep) finds it again.
    """
    if not path.exists():
        return None
    try:
        old = h5py.File(path, "r")
    except OSError as exc:
        log.warning("%s: damaged consolidated file (%s); rebuilding it from the shards "
                    "(events are detected again)", path, os_error_text(exc))
        return None
    with old:
        check_schema(old.attrs, path)
        try:
            for name in PRESERVED_GROUPS:
                if name in old:
                    old.copy(old[name], out, name=name)
            return old.attrs.get("provenance_json")
        except (OSError, KeyError, RuntimeError) as exc:
            for name in PRESERVED_GROUPS:
                if name in out:
                    del out[name]
            log.warning("%s: damaged consolidated file (%s); rebuilding it from the shards "
                        "(events are detected again)", path, exc)
            return None


def _write_series(out: h5py.File, shards: list[StepShard], provenance_json: str,
                  path: Path) -> None:
    shards = sorted(shards, key=lambda s: s.step)
    first = shards[0]
    out.attrs["schema_version"] = SCHEMA_VERSION
    out.attrs["package_version"] = __version__
    out.attrs["kind"] = KIND_SERIES
    out.attrs["series_id"] = first.series_id
    out.attrs["tokens_per_step"] = first.tokens_per_step
    out.attrs["provenance_json"] = provenance_json
    out.attrs["written_at"] = time.time()

    steps = np.array([s.step for s in shards], dtype=np.int64)
    hashes = [s.checkpoint_hash for s in shards]
    # What the sweep found when it loaded each checkpoint (it compared consecutive weights).
    repeated = np.array([s.repeats_step >= 0 for s in shards], dtype=bool)
    ckpt = out.create_group(CHECKPOINTS)
    ckpt.create_dataset("step", data=steps)
    ckpt.create_dataset("tokens", data=np.array([s.tokens for s in shards], dtype=np.int64))
    text = h5py.string_dtype()
    ckpt.create_dataset("revision", data=np.array([s.revision for s in shards], dtype=object),
                        dtype=text)
    ckpt.create_dataset("checkpoint_hash", data=np.array(hashes, dtype=object), dtype=text)
    ckpt.create_dataset("repeated_weights", data=repeated)

    results = out.create_group(RESULTS)
    variants: dict[tuple[str, str], list[tuple[int, ProbeResult]]] = {}
    for i, shard in enumerate(shards):
        for probe_key, result in shard.results.items():
            variants.setdefault(probe_key, []).append((i, result))
    for (probe, key), entries in sorted(variants.items()):
        group = results.require_group(probe).create_group(key)
        sample = entries[-1][1]
        group.attrs["probe"] = probe
        group.attrs["probe_version"] = sample.version
        group.attrs["config_json"] = sample.config_json
        group.attrs["config_hash"] = sample.config_hash
        present = np.zeros(len(shards), dtype=bool)
        for i, _ in entries:
            present[i] = True
        group.create_dataset("present", data=present)
        names = sorted({m for _, r in entries for m in r.metrics})
        for name in names:
            specimen_i, specimen = next((i, r) for i, r in entries if name in r.metrics)
            shape = specimen.values[name].shape
            data = np.full((len(shards), *shape), np.nan, dtype=np.float32)
            for i, result in entries:
                if name not in result.values:
                    continue
                if result.values[name].shape != shape:
                    raise StoreError(
                        f"{path}: {probe}/{name} has shape {result.values[name].shape} at step "
                        f"{shards[i].step} but {shape} at step {shards[specimen_i].step}: the "
                        "architecture changed between steps; sweep them into separate stores")
                data[i] = result.values[name]
            opts = _COMPRESSION if data.ndim > 1 else {}
            dset = group.create_dataset(name, data=data, **opts)
            dset.attrs.update(specimen.metrics[name].attrs())
        write_static(group, next((r.static for _, r in reversed(entries) if r.static), {}))
