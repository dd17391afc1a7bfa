"""Is a checkpoint completely written? Checked from file headers, without loading weights.

A scheduled sweep lists checkpoints while the training run may still be writing them. A folder
is complete when it holds ``config.json`` and every weights file the checkpoint needs, each of
them whole: a safetensors file is exactly as long as its header says (8-byte length, JSON
header, then the last tensor's end offset), a torch ``.bin`` is a zip whose central directory
(written last) is present, and a sharded checkpoint's index names shards that are all there
and whole. Half-written files (``*.tmp``, ``*.incomplete``, ``*.partial``) beside them mean a
``save_pretrained`` is still in progress.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from collections.abc import Iterable
from pathlib import Path

#: Single-file weights, in the order ``from_pretrained`` prefers them.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: Index files of sharded checkpoints.
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
#: Suffixes of files that writers rename into place when done.
PARTIAL_SUFFIXES = (".tmp", ".incomplete", ".partial")


def weights_file_problem(path: str | os.PathLike[str]) -> str | None:
    """Return why a weights file is not whole (None when it is).

    Symlinks are followed (a hub cache's snapshot links to blobs); a dangling link is missing.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
    except OSError:
        return f"{file.name} is missing"
    if file.name.endswith(".safetensors"):
        return _safetensors_problem(file, size)
    if file.name.endswith(".bin"):
        try:
            with open(file, "rb") as fh:
                magic = fh.read(4)
            whole = zipfile.is_zipfile(file)
        except OSError as exc:
            return f"{file.name} is unreadable ({exc.strerror})"
        if magic == b"PK\x03\x04" and not whole:
            return f"{file.name} is truncated (no zip central directory)"
        # Old non-zip torch pickles cannot be checked from their header; accept them.
        return None if size > 0 else f"{file.name} is empty"
    return None


def _safetensors_problem(file: Path, size: int) -> str | None:
    try:
        with open(file, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return f"{file.name} is truncated ({size} bytes)"
            (length,) = struct.unpack("<Q", head)
            if length > size - 8:
                return f"{file.name} is truncated (header of {length} bytes, file {size})"
            header = json.loads(fh.read(length))
    except (OSError, ValueError) as exc:
        return f"{file.name} is corrupt (unreadable header: {exc})"
    ends = [int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"]
    expected = 8 + length + max(ends, default=0)
    if size < expected:
        return f"{file.name} is truncated ({size} of {expected} bytes)"
    return None


def is_corrupt(problem: str | None) -> bool:
    """Whether a problem found here is damage rather than a write still in progress.

    A writer fills a safetensors file front to back, so a file of full length whose header
    does not parse will never become whole: waiting for it would wait forever.
    """
    return problem is not None and " is corrupt " in problem


def index_shards(folder: str | os.PathLike[str]) -> list[Path] | None:
    """Return the shard files a sharded checkpoint's index names (None when it has no index).

    Raises:
        ValueError: Naming the index file, when it is unreadable.
    """
    root = Path(folder)
    for name in INDEX_FILES:
        index = root / name
        if index.exists():
            try:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            except (OSError, ValueError, KeyError, AttributeError) as exc:
                raise ValueError(f"{name} is corrupt (unreadable index: {exc})") from exc
            return [root / shard for shard in shards]
    return None


def weight_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Return the weights files ``from_pretrained`` reads from a checkpoint folder.

    A sharded checkpoint's shards, else the first single file present (safetensors before
    ``.bin``); empty when there are none or the index is unreadable.
    """
    root = Path(folder)
    try:
        shards = index_shards(root)
    except ValueError:
        return []
    if shards is not None:
        return [shard for shard in shards if shard.exists()]
    return next(([root / name] for name in WEIGHT_FILES if (root / name).exists()), [])


def weight_names(names: Iterable[str]) -> list[str]:
    """Pick, from a revision's file names, the weights files ``from_pretrained`` would read.

    As :func:`weight_files` prefers on disk: a sharded safetensors checkpoint (its index and
    shards), one safetensors file, a sharded ``.bin``, one ``.bin``; empty when none is there.
    """
    present = set(names)
    for index, single, suffix in ((INDEX_FILES[0], WEIGHT_FILES[0], ".safetensors"),
                                  (INDEX_FILES[1], WEIGHT_FILES[1], ".bin")):
        if index in present:
            return [index, *sorted(n for n in present if n.endswith(suffix) and "/" not in n)]
        if single in present:
            return [single]
    return []


def folder_problem(folder: str | os.PathLike[str]) -> str | None:
    """Return why a ``save_pretrained`` folder is not a complete checkpoint (None when it is).

    Args:
        folder: A checkpoint folder (or a hub cache snapshot).

    Returns:
        A short reason naming the file at fault, or None.
    """
    root = Path(folder)
    if not (root / "config.json").exists():
        return "config.json is missing"
    partial = sorted(p.name for p in root.iterdir() if p.name.endswith(PARTIAL_SUFFIXES))
    if partial:
        return f"{partial[0]} is still being written"
    try:
        shards = index_shards(root)
    except ValueError as exc:
        return str(exc)
    if shards is not None:
        for shard in shards:
            problem = weights_file_problem(shard)
            if problem:
                return problem
        return None
    present = [root / name for name in WEIGHT_FILES if (root / name).is_symlink()
               or (root / name).exists()]
    if not present:
        return f"no weights file ({' or '.join(WEIGHT_FILES)})"
    return weights_file_problem(present[0])
