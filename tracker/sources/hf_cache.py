"""Read and write local Hugging Face caches laid out exactly as the hub lays them out.

The layout (``huggingface_hub`` file cache)::

    CACHE/models--ORG--NAME/blobs/<sha256>
    CACHE/models--ORG--NAME/refs/<revision>          # holds the commit hash
    CACHE/models--ORG--NAME/snapshots/<commit>/<file> -> ../../blobs/<sha256>

The writer lets tests and the model-organism suite build caches that ``from_pretrained(...,
cache_dir=CACHE, local_files_only=True)`` loads through the very path used against the hub.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

#: Prefix of the folder a revision is staged in; suffix of half-written blobs and refs.
STAGING_PREFIX = ".staging-"
PARTIAL_SUFFIX = ".incomplete"


def repo_folder(cache_dir: str | os.PathLike[str], repo_id: str) -> Path:
    """Return the cache folder of a model repo (``models--org--name``)."""
    return Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))


def list_cached_refs(cache_dir: str | os.PathLike[str], repo_id: str) -> dict[str, str]:
    """List the revisions (refs) a local cache holds for a repo.

    Args:
        cache_dir: The hub cache root.
        repo_id: Repo id such as ``EleutherAI/pythia-70m``.

    Returns:
        Mapping from ref name (``step1000``, ``main``) to commit hash; empty if none.
    """
    refs_dir = repo_folder(cache_dir, repo_id) / "refs"
    if not refs_dir.is_dir():
        return {}
    refs = {}
    for path in refs_dir.rglob("*"):
        if path.is_file() and not path.name.endswith(PARTIAL_SUFFIX):  # a ref being written
            refs[path.relative_to(refs_dir).as_posix()] = path.read_text().strip()
    return refs


def cached_repo_ids(cache_dir: str | os.PathLike[str]) -> list[str]:
    """Return the model repo ids present in a cache folder."""
    root = Path(cache_dir)
    if not root.is_dir():
        return []
    ids = []
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.startswith("models--"):
            ids.append(child.name[len("models--") :].replace("--", "/", 1))
    return ids


def write_cache_revision(
    cache_dir: str | os.PathLike[str],
    repo_id: str,
    revision: str,
    model: Any,
    tokenizer: Any | None = None,
) -> str:
    """Save a model (and tokenizer) into a hub-layout cache under a revision name.

    Files go through ``save_pretrained`` into a temporary folder, then into content-addressed
    blobs; the snapshot holds relative symlinks and ``refs/<revision>`` names the commit, so a
    kill mid-write leaves at worst an unreferenced snapshot, never a ref to missing files.

    Args:
        cache_dir: Cache root.
        repo_id: Repo id to file the model under.
        revision: Ref name such as ``step1000``.
        model: Object with ``save_pretrained``.
        tokenizer: Optional object with ``save_pretrained``.

    Returns:
        The commit hash the ref points to.
    """
    repo = repo_folder(cache_dir, repo_id)
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one bar per shard would drown the caller's own bars
    with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=repo) as tmp:
        model.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        files: dict[str, str] = {}
        for path in sorted(Path(tmp).rglob("*")):
            if not path.is_file():
                continue
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            blob = repo / "blobs" / sha
            if not blob.exists():
                part = blob.with_suffix(PARTIAL_SUFFIX)
                part.write_bytes(data)
                os.replace(part, blob)
            files[path.relative_to(tmp).as_posix()] = sha
    commit = hashlib.sha1(
        "\n".join(f"{name} {sha}" for name, sha in sorted(files.items())).encode()
    ).hexdigest()
    snapshot = repo / "snapshots" / commit
    for name, sha in files.items():
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        target = os.path.relpath(repo / "blobs" / sha, link.parent)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    ref = repo / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    tmp_ref = ref.with_name(ref.name + PARTIAL_SUFFIX)
    tmp_ref.write_text(commit)
    os.replace(tmp_ref, ref)
    return commit


def remove_partial_writes(cache_dir: str | os.PathLike[str], repo_id: str) -> int:
    """Delete what a killed :func:`write_cache_revision` left behind in a repo folder.

    That is staging folders, half-written blobs and refs; complete revisions are untouched
    (a snapshot without a ref is harmless and is reused when the revision is written again).

    Returns:
        The number of paths removed.
    """
    repo = repo_folder(cache_dir, repo_id)
    if not repo.is_dir():
        return 0
    partial = [*repo.glob(STAGING_PREFIX + "*"), *(repo / "blobs").glob("*" + PARTIAL_SUFFIX),
               *(repo / "refs").rglob("*" + PARTIAL_SUFFIX)]
    for path in partial:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return len(partial)


def snapshot_folder(cache_dir: str | os.PathLike[str], repo_id: str, revision: str) -> Path | None:
    """Return the snapshot folder a cached ref points to (None when the ref is not cached)."""
    repo = repo_folder(cache_dir, repo_id)
    ref = repo / "refs" / revision
    if not ref.is_file():
        return None
    return repo / "snapshots" / ref.read_text().strip()


def evict_revision(cache_dir: str | os.PathLike[str], repo_id: str, revision: str) -> int:
    """Delete a cached revision's snapshot and the blobs no other snapshot links to.

    The ref is kept (it is a few bytes), so an offline listing still shows the checkpoint and a
    sweep's step selection does not shift once processed checkpoints are evicted; loading it
    again needs a download.

    Returns:
        Bytes freed (0 when the revision was not cached or was already evicted).
    """
    repo = repo_folder(cache_dir, repo_id)
    snapshot = snapshot_folder(cache_dir, repo_id, revision)
    if snapshot is None or not snapshot.is_dir():
        return 0
    refs = list_cached_refs(cache_dir, repo_id)
    if any(name != revision and commit == snapshot.name for name, commit in refs.items()):
        return 0  # another ref (identical weights) still uses this very snapshot
    targets = {(link.parent / os.readlink(link)).resolve() for link in snapshot.rglob("*")
               if link.is_symlink()}
    still_used: set[Path] = set()
    for other in (repo / "snapshots").iterdir():
        if other != snapshot:
            still_used.update((p.parent / os.readlink(p)).resolve()
                              for p in other.rglob("*") if p.is_symlink())
    # Snapshot links first: a kill between the two steps leaves orphan blobs (harmless,
    # unreferenced), never a snapshot whose links dangle into deleted blobs.
    shutil.rmtree(snapshot)
    freed = 0
    for blob in targets - still_used:
        try:
            freed += blob.stat().st_size
            blob.unlink()
        except FileNotFoundError:
            pass
    return freed
