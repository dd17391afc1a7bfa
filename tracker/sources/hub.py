"""Checkpoint series stored as ``step{N}`` revisions of a Hugging Face repo (Pythia naming)."""

from __future__ import annotations

import os
from typing import Any

import torch

from tracker.errors import SourceError
from tracker.sources.base import CheckpointSeries, LoadedCheckpoint, parse_step
from tracker.sources.completeness import folder_problem
from tracker.sources.hf_cache import evict_revision, list_cached_refs, snapshot_folder
from tracker.sources.integrity import weights_hash
from tracker.sources.loading import load_model_and_tokenizer
from tracker.sources.schedule import PYTHIA_TOKENS_PER_STEP, Checkpoint


class HubSeries(CheckpointSeries):
    """A hub repo whose revisions ``step{N}`` are checkpoints.

    Online, revisions are listed through ``huggingface_hub.list_repo_refs``; offline
    (``local_files_only``), through the cache's ``refs/`` folder. Loading always goes through
    ``from_pretrained(repo, revision=..., cache_dir=..., local_files_only=...)``.

    Args:
        repo_id: Repo id such as ``EleutherAI/pythia-70m``.
        cache_dir: Hub cache root (None: the default cache).
        local_files_only: Never touch the network.
        tokens_per_step: Tokens per optimiser step (Pythia: 2,097,152).
    """

    def __init__(
        self,
        repo_id: str,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        tokens_per_step: int = PYTHIA_TOKENS_PER_STEP,
    ) -> None:
        self.series_id = repo_id
        self.repo_id = repo_id
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.local_files_only = local_files_only
        self.tokens_per_step = tokens_per_step
        self._refs: dict[str, str] | None = None
        self._tokenizer: Any = None

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
            refs = {b.name: b.target_commit for b in listing.branches}
        self._refs = refs
        return refs

    def checkpoints(self) -> list[Checkpoint]:
        """List ``step{N}`` revisions as checkpoints sorted by step."""
        out = []
        for name in self._list_refs():
            step = parse_step(name)
            if step is not None:
                out.append(Checkpoint(step, name, step * self.tokens_per_step))
        if not out:
            raise SourceError(f"{self.repo_id}: no step{{N}} revisions found")
        return sorted(out, key=lambda c: c.step)

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
        return LoadedCheckpoint(
            checkpoint=checkpoint,
            model=model,
            tokenizer=self._tokenizer,
            weights_hash=weights_hash(model),
            provenance={"repo": self.repo_id, "revision": checkpoint.revision, "commit": commit},
        )

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

    def evict(self, checkpoint: Checkpoint) -> int:
        """Delete the revision's snapshot and its unshared blobs from the cache (ref kept)."""
        return evict_revision(self.cache_dir or _default_cache(), self.repo_id,
                              checkpoint.revision)

    def describe(self) -> dict[str, str]:
        """Return kind, repo and cache location."""
        return {"kind": "hub", "series_id": self.series_id, "cache_dir": self.cache_dir or ""}


def _default_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)
