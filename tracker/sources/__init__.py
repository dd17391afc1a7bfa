"""Checkpoint series: hub repos with step revisions, offline caches, local folders."""

from __future__ import annotations

import os
from pathlib import Path

from tracker.sources.base import CheckpointSeries, LoadedCheckpoint, parse_step
from tracker.sources.hf_cache import (
    cached_repo_ids,
    list_cached_refs,
    repo_folder,
    write_cache_revision,
)
from tracker.sources.hub import HubSeries
from tracker.sources.local import LocalFolderSeries
from tracker.sources.metadata import SERIES_META, read_series_meta, write_series_meta
from tracker.sources.schedule import (
    PYTHIA_TOKENS_PER_STEP,
    Checkpoint,
    pythia_like_steps,
    pythia_steps,
    select_steps,
)
from tracker.sources.suites import (
    KNOWN_SCHEMES,
    RevisionScheme,
    checkpoints_from_revisions,
    scheme_for,
    user_scheme,
)

__all__ = [
    "SERIES_META",
    "Checkpoint",
    "CheckpointSeries",
    "HubSeries",
    "KNOWN_SCHEMES",
    "LoadedCheckpoint",
    "LocalFolderSeries",
    "PYTHIA_TOKENS_PER_STEP",
    "RevisionScheme",
    "checkpoints_from_revisions",
    "cached_repo_ids",
    "list_cached_refs",
    "open_series",
    "parse_step",
    "pythia_like_steps",
    "pythia_steps",
    "read_series_meta",
    "repo_folder",
    "scheme_for",
    "select_steps",
    "user_scheme",
    "write_cache_revision",
    "write_series_meta",
]


def open_series(
    spec: str,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool | None = None,
    tokens_per_step: int | None = None,
    pattern: str | None = None,
    revisions: str | None = None,
) -> CheckpointSeries:
    """Open a series from what a user types: a local folder or a hub repo id.

    A hub repo is read offline (``local_files_only``) whenever a cache dir is given or
    ``HF_HUB_OFFLINE`` is set, unless ``local_files_only`` says otherwise.

    Args:
        spec: Folder path or repo id (``EleutherAI/pythia-70m``).
        cache_dir: Hub cache root for repo ids.
        local_files_only: Force offline (True) or online (False) listing and loading.
        tokens_per_step: Override tokens per step (default: the value in the series metadata
            (:mod:`tracker.sources.metadata`); else, for hub repos, the known suite's or what
            revision names say (:mod:`tracker.sources.suites`); else 1).
        pattern: Glob for checkpoint folders inside a local folder.
        revisions: Regex over a hub repo's revision names with a ``(?P<step>...)`` group and
            optionally ``(?P<tokens>...)`` (``84B``, ``512M``); default: the repo's suite.

    Returns:
        The series.
    """
    path = Path(spec)
    if path.is_dir():
        meta = read_series_meta(path)
        return LocalFolderSeries(
            path,
            pattern=pattern,
            tokens_per_step=tokens_per_step or int(meta.get("tokens_per_step", 1)),
            series_id=meta.get("series_id"),
        )
    offline = local_files_only
    if offline is None:
        offline = cache_dir is not None or os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")
    per_step = tokens_per_step
    if per_step is None and cache_dir is not None:
        stated = read_series_meta(repo_folder(cache_dir, spec)).get("tokens_per_step")
        per_step = int(stated) if stated else None
    return HubSeries(
        spec,
        cache_dir=cache_dir,
        local_files_only=bool(offline),
        tokens_per_step=per_step,
        scheme=None if revisions is None else user_scheme(revisions),
    )
