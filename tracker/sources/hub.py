"""Checkpoint series stored as revisions of a Hugging Face repo (one branch per checkpoint)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from tracker.errors import SourceError
from tracker.sources.base import CheckpointSeries, LoadedCheckpoint
from tracker.sources.completeness import folder_problem, weight_files, weight_names
from tracker.sources.hf_cache import (
    evict_revision,
    list_cached_refs,
    repo_folder,
    snapshot_folder,
)
from tracker.sources.integrity import checkpoint_identity
from tracker.sources.loading import load_model_and_tokenizer
from tracker.sources.schedule import Checkpoint
from tracker.sources.suites import RevisionScheme, checkpoints_from_revisions, scheme_for


class HubSeries(CheckpointSeries):
    """A hub repo whose revisions are checkpoints, named by one suite's scheme.

    Online, revisions are listed through ``huggingface_hub.list_repo_refs`` (branches and
    tags); offline (``local_files_only``), through the cache's ``refs/`` folder. Loading always
    goes through ``from_pretrained(repo, revision=..., cache_dir=..., local_files_only=...)``.
    Revision names become steps and tokens by the repo's scheme
    (:mod:`tracker.sources.suites`): a known suite's, a user's, or the one its names follow.

    Args:
        repo_id: Repo id such as ``EleutherAI/pythia-70m``.
        cache_dir: Hub cache root (None: the default cache).
        local_files_only: Never touch the network.
        tokens_per_step: Tokens per optimiser step (None: the suite's, or from the names).
        scheme: How revisions are named (None: found from the repo id and its names).
    """

    def __init__(
        self,
        repo_id: str,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        tokens_per_step: int | None = None,
        scheme: RevisionScheme | None = None,
    ) -> None:
        self.series_id = repo_id
        self.repo_id = repo_id
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.local_files_only = local_files_only
        self._tokens_per_step = tokens_per_step
        self._given_tokens_per_step = tokens_per_step
        self.scheme = scheme
        self._refs: dict[str, str] | None = None
        self._tokenizer: Any = None

    @property
    def tokens_per_step(self) -> int:
        """Tokens per optimiser step (listing the revisions first where it comes from them)."""
        if self._tokens_per_step is None:
            self.checkpoints()
        assert self._tokens_per_step is not None
        return self._tokens_per_step

    @tokens_per_step.setter
    def tokens_per_step(self, value: int) -> None:
        self._tokens_per_step = self._given_tokens_per_step = value

    def _list_refs(self) -> dict[str, str]:
        if self._refs is not None:
            return self._refs
        if self.local_files_only:
            cache = self.cache_dir or _default_cache()
            refs = list_cached_refs(cache, self.repo_id)
            if not refs:
                raise SourceError(f"{self.repo_id}: no cached revisions under {cache}")
        else:
            from huggingface_hub import list_repo_refs

            try:
                listing = list_repo_refs(self.repo_id)
            except Exception as exc:  # noqa: BLE001 - network and auth failures alike
                raise SourceError(f"{self.repo_id}: cannot list revisions: {exc}") from exc
            refs = {ref.name: ref.target_commit for ref in [*listing.branches, *listing.tags]}
        self._refs = refs
        return refs

    def checkpoints(self) -> list[Checkpoint]:
        """List the revisions the scheme names as checkpoints, sorted by step."""
        refs = self._list_refs()
        if self.scheme is None:
            self.scheme = scheme_for(self.repo_id, refs)
        out, per_step = checkpoints_from_revisions(
            refs, self.scheme, self._given_tokens_per_step, what=self.repo_id)
        self._tokens_per_step = per_step
        return out

    def load(
        self, checkpoint: Checkpoint, device: str = "cpu", dtype: torch.dtype = torch.float32
    ) -> LoadedCheckpoint:
        """Load the model at ``checkpoint.revision`` (tokenizer loaded once and reused)."""
        what = f"{self.repo_id}@{checkpoint.revision}"
        if self.local_files_only and checkpoint.revision not in self._list_refs():
            raise SourceError(f"{what}: revision is not in the cache")
        model, tokenizer = load_model_and_tokenizer(
            self.repo_id,
            what=what,
            revision=checkpoint.revision,
            cache_dir=self.cache_dir,
            local_files_only=self.local_files_only,
            device=device,
            dtype=dtype,
            load_tokenizer=self._tokenizer is None,
        )
        if tokenizer is not None:
            self._tokenizer = tokenizer
        commit = self._list_refs().get(checkpoint.revision, "")
        folder = self._snapshot(checkpoint.revision, commit)
        return LoadedCheckpoint(
            checkpoint=checkpoint,
            model=model,
            tokenizer=self._tokenizer,
            weights_hash=checkpoint_identity(model, folder, dtype),
            provenance={"repo": self.repo_id, "revision": checkpoint.revision, "commit": commit},
        )

    def _snapshot(self, revision: str, commit: str) -> Path | None:
        """Return the cache folder ``from_pretrained`` read the revision from (None if absent)."""
        cache = self.cache_dir or _default_cache()
        folder = snapshot_folder(cache, self.repo_id, revision)
        if folder is None and commit:
            folder = repo_folder(cache, self.repo_id) / "snapshots" / commit
        return folder if folder is not None and folder.is_dir() else None

    def incomplete(self, checkpoint: Checkpoint) -> str | None:
        """Why an offline cache's revision is not complete (online revisions always are).

        ``huggingface_hub`` links a snapshot file only once its blob is downloaded, so a
        missing or truncated weights file here is a copy into the cache still under way.
        """
        if not self.local_files_only:
            return None
        cache = self.cache_dir or _default_cache()
        snapshot = snapshot_folder(cache, self.repo_id, checkpoint.revision)
        if snapshot is None:
            return "revision is not in the cache"
        if not snapshot.is_dir():
            return "snapshot is not in the cache (evicted?)"
        return folder_problem(snapshot)

    def weight_files(self, checkpoint: Checkpoint) -> list[Path]:
        """Return the revision's weights files in the cache (empty when not downloaded)."""
        snapshot = snapshot_folder(self.cache_dir or _default_cache(), self.repo_id,
                                   checkpoint.revision)
        return [] if snapshot is None or not snapshot.is_dir() else weight_files(snapshot)

    def download(self, checkpoint: Checkpoint) -> list[Path]:
        """Download the revision's config and weights into the cache, unless cached already.

        Online only (offline, nothing can be fetched): the files ``from_pretrained`` would
        read (:func:`tracker.sources.completeness.weight_names`) through ``hf_hub_download``,
        which files them in the cache as the load then finds them.
        """
        files = self.weight_files(checkpoint)
        if files or self.local_files_only:
            return files
        from huggingface_hub import HfApi, hf_hub_download

        names = HfApi().list_repo_files(self.repo_id, revision=checkpoint.revision)
        for name in ["config.json", *weight_names(names)]:
            hf_hub_download(self.repo_id, name, revision=checkpoint.revision,
                            cache_dir=self.cache_dir)
        return self.weight_files(checkpoint)

    def evict(self, checkpoint: Checkpoint) -> int:
        """Delete the revision's snapshot and its unshared blobs from the cache (ref kept)."""
        return evict_revision(self.cache_dir or _default_cache(), self.repo_id,
                              checkpoint.revision)

    def describe(self) -> dict[str, str]:
        """Return kind, repo, cache location and the revision scheme."""
        scheme = self.scheme
        return {"kind": "hub", "series_id": self.series_id, "cache_dir": self.cache_dir or "",
                "revisions": "" if scheme is None else f"{scheme.name}: {scheme.pattern}"}


def _default_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)
