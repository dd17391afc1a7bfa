"""Checkpoint series stored as local folders of ``save_pretrained`` files."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Any

import torch

from tracker.errors import SourceError
from tracker.sources.base import CheckpointSeries, LoadedCheckpoint, parse_step
from tracker.sources.completeness import folder_problem, weight_files
from tracker.sources.integrity import checkpoint_identity
from tracker.sources.loading import load_model_and_tokenizer
from tracker.sources.schedule import Checkpoint

_DIGITS = re.compile(r"(\d+)(?!.*\d)")


class LocalFolderSeries(CheckpointSeries):
    """Checkpoints in sub-folders ``step{N}/`` or ``checkpoint-{N}/`` (or a user glob).

    The step of a folder matched by a glob is the last integer in its name. A folder is a
    checkpoint once it holds a ``config.json``, so a training run that is still writing is
    listed anew on every call to :meth:`checkpoints`.

    Args:
        root: Folder holding the checkpoint folders.
        pattern: Optional glob relative to ``root`` (e.g. ``ckpt_*``).
        tokens_per_step: Tokens per optimiser step.
        series_id: Name of the series (default: the folder name).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        pattern: str | None = None,
        tokens_per_step: int = 1,
        series_id: str | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise SourceError(f"{self.root}: not a folder")
        self.pattern = pattern
        self.tokens_per_step = tokens_per_step
        self.series_id = series_id or self.root.resolve().name
        self._paths: dict[str, Path] = {}
        self._tokenizer: Any = None

    def checkpoints(self) -> list[Checkpoint]:
        """List checkpoint folders sorted by step."""
        found: dict[int, Path] = {}
        if self.pattern:
            candidates = [Path(p) for p in glob.glob(str(self.root / self.pattern))]
        else:
            candidates = [p for p in self.root.iterdir() if parse_step(p.name) is not None]
        for path in candidates:
            if not (path / "config.json").is_file():
                continue
            step = parse_step(path.name)
            if step is None:
                match = _DIGITS.search(path.name)
                if not match:
                    continue
                step = int(match.group(1))
            if step in found:
                raise SourceError(f"{path}: step {step} also in {found[step]}")
            found[step] = path
        if not found:
            raise SourceError(
                f"{self.root}: no checkpoint folders (step{{N}}/, checkpoint-{{N}}/)"
            )
        self._paths = {p.name: p for p in found.values()}
        per_step = self.tokens_per_step
        return [Checkpoint(s, found[s].name, s * per_step) for s in sorted(found)]

    def load(
        self, checkpoint: Checkpoint, device: str = "cpu", dtype: torch.dtype = torch.float32
    ) -> LoadedCheckpoint:
        """Load the model saved in the checkpoint's folder."""
        path = self._paths.get(checkpoint.revision, self.root / checkpoint.revision)
        if not path.is_dir():
            raise SourceError(f"{path}: checkpoint folder for step {checkpoint.step} is missing")
        model, tokenizer = load_model_and_tokenizer(
            path,
            what=str(path),
            local_files_only=True,
            device=device,
            dtype=dtype,
            load_tokenizer=self._tokenizer is None,
        )
        if tokenizer is not None:
            self._tokenizer = tokenizer
        return LoadedCheckpoint(
            checkpoint=checkpoint,
            model=model,
            tokenizer=self._tokenizer,
            weights_hash=checkpoint_identity(model, path, dtype),
            provenance={"path": str(path)},
        )

    def incomplete(self, checkpoint: Checkpoint) -> str | None:
        """Why the checkpoint's folder is not completely written (see ``folder_problem``)."""
        path = self._paths.get(checkpoint.revision, self.root / checkpoint.revision)
        if not path.is_dir():
            return "folder is missing"
        return folder_problem(path)

    def weight_files(self, checkpoint: Checkpoint) -> list[Path]:
        """Return the weights files in the checkpoint's folder."""
        path = self._paths.get(checkpoint.revision, self.root / checkpoint.revision)
        return weight_files(path) if path.is_dir() else []

    def describe(self) -> dict[str, str]:
        """Return kind and folder."""
        return {"kind": "local", "series_id": self.series_id, "root": str(self.root)}
