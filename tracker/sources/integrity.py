"""Weight identities: which weights a checkpoint holds, and detection of repeated weights.

A checkpoint's identity is taken from its weight files where it has them: the SHA-256 of each
file, which a hub cache already carries as the name of the blob the snapshot links to (the
hub's LFS object id), so a cached checkpoint is identified without reading its 0.3-300 GB; a
local folder's files are hashed once. The loading dtype enters the identity too (the same
files loaded in bfloat16 are other weights to a probe). Two checkpoints are identical exactly
when they load the same files the same way.

Without weight files (a model built in memory) the identity is the SHA-256 of the parameters'
bytes. Stores written before file identities hold a BLAKE2b content hash (32 hex digits, no
prefix); :func:`same_weights` recomputes that one for them, so a resumed store still checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tracker.sources.completeness import WEIGHT_FILES, index_shards

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 24


def weights_hash(model: torch.nn.Module) -> str:
    """Hash a model's parameters and persistent buffers by content: ``sha256:<hex>``.

    Names, dtypes, shapes and raw bytes all enter the hash, in sorted name order. Tied
    parameters are hashed once per name, which is stable for a given architecture.
    """
    return "sha256:" + _content_digest(model, hashlib.sha256())[:32]


def legacy_weights_hash(model: torch.nn.Module) -> str:
    """Return the BLAKE2b content hash stores held before file identities (32 hex digits)."""
    return _content_digest(model, hashlib.blake2b(digest_size=16))


def _content_digest(model: torch.nn.Module, digest: Any) -> str:
    state = model.state_dict()
    for name in sorted(state):
        tensor = state[name].detach()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        cpu = tensor.to("cpu").contiguous()
        # bfloat16 has no numpy dtype: hash its bytes through a same-width integer view.
        if cpu.dtype == torch.bfloat16:
            cpu = cpu.view(torch.int16)
        # The array's buffer itself, not a tobytes() copy of every tensor.
        digest.update(cpu.numpy().reshape(-1).view(np.uint8))
    return digest.hexdigest()


def weight_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Return the weight files ``from_pretrained`` reads from a checkpoint folder (or []).

    Raises:
        ValueError: When a sharded checkpoint's index is unreadable.
    """
    root = Path(folder)
    shards = index_shards(root)
    if shards is not None:
        return shards
    for name in WEIGHT_FILES:
        if (root / name).exists():
            return [root / name]
    return []


def file_sha256(path: Path) -> str:
    """SHA-256 of a file: the blob name where ``path`` links into a hub cache, else hashed."""
    if path.is_symlink():
        blob = Path(os.readlink(path)).name
        if _SHA256.fullmatch(blob):
            return blob
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def files_hash(folder: str | os.PathLike[str], dtype: torch.dtype) -> str | None:
    """Identity of a checkpoint folder's weights loaded as ``dtype``: ``files:<hex>``.

    None when the folder has no weight file ``from_pretrained`` would read.
    """
    try:
        files = weight_files(folder)
    except ValueError:  # an unreadable index: loading has failed already, or will say why
        return None
    if not files:
        return None
    listing = {"dtype": str(dtype), "files": {f.name: file_sha256(f) for f in files}}
    text = json.dumps(listing, sort_keys=True).encode()
    return "files:" + hashlib.sha256(text).hexdigest()[:32]


def checkpoint_identity(
    model: torch.nn.Module, folder: str | os.PathLike[str] | None, dtype: torch.dtype
) -> str:
    """Return the identity stored with a checkpoint's results: its files', else its content's."""
    found = files_hash(folder, dtype) if folder is not None else None
    return found if found is not None else weights_hash(model)


def same_weights(stored: str, current: str, model: torch.nn.Module) -> bool:
    """Whether results stored under identity ``stored`` are for the weights now loaded.

    ``current`` is the loaded checkpoint's identity. A store written with another kind of
    identity is checked by recomputing that kind from ``model`` where it can be (content
    hashes, old or new); a file identity cannot be recomputed from a model, so it must match.
    """
    if stored == current:
        return True
    if stored.startswith("sha256:"):
        return stored == weights_hash(model)
    if ":" not in stored:
        return stored == legacy_weights_hash(model)
    return False
