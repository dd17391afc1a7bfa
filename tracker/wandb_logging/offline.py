"""Read back what an offline W&B run recorded, from its ``run-<id>.wandb`` file.

Useful to check an offline run before ``wandb sync``, and how the tests verify logging for
real without network. wandb (0.19+) no longer ships a Python reader for this file, so this
decodes the container itself: the file is a LevelDB-style log (a 7-byte ``:W&B`` header,
32 KiB blocks, records split into FULL/FIRST/MIDDLE/LAST chunks, each with a CRC-32 seeded
by its chunk type), and each record is a ``wandb.proto.wandb_internal_pb2.Record`` parsed
with wandb's own protobuf definitions.
"""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.errors import TrackerError

_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
_BLOCK = 32 * 1024
_CHUNK_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _chunks(data: bytes, path: Path) -> Iterator[tuple[int, bytes]]:
    pos = len(_HEADER)
    while pos + _CHUNK_HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _CHUNK_HEADER:  # block trailer too short for a header: zero padding
            pos += left
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos:pos + _CHUNK_HEADER])
        if kind == 0 and length == 0:
            pos += left  # the rest of the block is padding
            continue
        body = data[pos + _CHUNK_HEADER:pos + _CHUNK_HEADER + length]
        if len(body) < length:
            break  # a run still being written: its tail is incomplete
        if zlib.crc32(body, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            raise TrackerError(f"{path}: corrupt record at byte {pos} (checksum mismatch)")
        yield kind, body
        pos += _CHUNK_HEADER + length


def iter_records(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Yield the protobuf ``Record`` messages of a ``.wandb`` file in write order.

    Raises:
        TrackerError: If wandb is missing or the file is not a W&B transaction log.
    """
    from tracker.wandb_logging.wandb_logger import import_wandb

    import_wandb()
    from wandb.proto import wandb_internal_pb2

    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(_HEADER):
        raise TrackerError(f"{path}: not a W&B run file (bad header)")
    pending = b""
    for kind, body in _chunks(data, path):
        if kind == _FULL:
            payload = body
        elif kind == _FIRST:
            pending = body
            continue
        elif kind == _MIDDLE:
            pending += body
            continue
        elif kind == _LAST:
            payload, pending = pending + body, b""
        else:
            raise TrackerError(f"{path}: unknown chunk type {kind}")
        record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]  # generated protobuf
        record.ParseFromString(payload)
        yield record


def _set_item(row: dict[str, Any], item: Any) -> None:
    path = list(item.nested_key) or [item.key]
    target = row
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = json.loads(item.value_json)


@dataclass
class OfflineRun:
    """What an offline run recorded.

    Attributes:
        path: The ``.wandb`` file.
        run: Run facts (id, project, group, job_type, display_name, tags).
        config: Run config, including later ``config.update`` calls.
        history: Logged rows in order (``_step`` included; media as dicts).
        metrics: ``define_metric`` records (name or glob_name, step_metric, summary).
        artifacts: Logged artifacts (name, type, file paths).
        exit_code: The run's exit code, or None if it did not finish.
    """

    path: Path
    run: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None


def find_run_file(path: str | os.PathLike[str]) -> Path:
    """Find the ``run-*.wandb`` file from itself or its run folder.

    Raises:
        TrackerError: If there is none or several.
    """
    path = Path(path)
    if path.is_file():
        return path
    found = sorted(path.glob("run-*.wandb"))
    if len(found) != 1:
        raise TrackerError(f"{path}: expected one run-*.wandb file, found {len(found)}")
    return found[0]


def read_offline_run(path: str | os.PathLike[str], wait_s: float = 0.0) -> OfflineRun:
    """Decode an offline run (its folder or its ``.wandb`` file).

    Args:
        path: The run folder or its ``.wandb`` file.
        wait_s: Poll up to this long for the run's exit record. wandb's writer process
            may still be flushing for a moment after ``run.finish()`` returns.

    Raises:
        TrackerError: If wandb is missing or the file is unreadable.
    """
    deadline = time.monotonic() + wait_s
    while True:
        out = _read(find_run_file(path))
        if out.exit_code is not None or time.monotonic() >= deadline:
            return out
        time.sleep(0.05)


def _read(path: Path) -> OfflineRun:
    out = OfflineRun(path)
    for record in iter_records(out.path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            out.run = {"id": r.run_id, "project": r.project, "group": r.run_group,
                       "job_type": r.job_type, "display_name": r.display_name,
                       "tags": list(r.tags)}
            for item in r.config.update:
                out.config[item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                _set_item(out.config, item)
        elif kind == "history":
            row: dict[str, Any] = {}
            for item in record.history.item:
                _set_item(row, item)
            out.history.append(row)
        elif kind == "metric":
            m = record.metric
            out.metrics.append({"name": m.name, "glob_name": m.glob_name,
                                "step_metric": m.step_metric,
                                "summary": [f.name for f, v in m.summary.ListFields() if v]})
        elif kind == "artifact":
            a = record.artifact
            out.artifacts.append({"name": a.name, "type": a.type,
                                  "files": [c.path for c in a.manifest.contents]})
        elif kind == "exit":
            out.exit_code = int(record.exit.exit_code)
    return out
