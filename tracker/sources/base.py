"""The checkpoint-series interface every source implements."""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tracker.sources.schedule import Checkpoint

STEP_PATTERN = re.compile(r"^(?:step|checkpoint-|global_step|step_)(\d+)$")


def parse_step(name: str) -> int | None:
    """Return the step encoded in a revision or folder name (``step1000``, ``checkpoint-1000``)."""
    match = STEP_PATTERN.match(name)
    return int(match.group(1)) if match else None


@dataclass
class LoadedCheckpoint:
    """A model and tokenizer loaded at one checkpoint.

    Attributes:
        checkpoint: Which checkpoint this is.
        model: The Hugging Face causal LM, in eval mode.
        tokenizer: Its tokenizer (may be None if the checkpoint ships none).
        weights_hash: Content hash of the weights (see ``tracker.sources.integrity``).
        provenance: Free-form facts about where the weights came from (paths, commit).
    """

    checkpoint: Checkpoint
    model: Any
    tokenizer: Any
    weights_hash: str
    provenance: dict[str, str] = field(default_factory=dict)


class CheckpointSeries(abc.ABC):
    """A training run's checkpoints, in step order, loadable one at a time."""

    #: Stable identifier of the series (hub repo id or a folder-derived name).
    series_id: str
    #: Tokens consumed per optimiser step.
    tokens_per_step: int

    @abc.abstractmethod
    def checkpoints(self) -> list[Checkpoint]:
        """List the series' checkpoints sorted by step."""

    @abc.abstractmethod
    def load(
        self, checkpoint: Checkpoint, device: str = "cpu", dtype: torch.dtype = torch.float32
    ) -> LoadedCheckpoint:
        """Load model and tokenizer at a checkpoint.

        Raises:
            SourceError: When the revision is missing or its files are unreadable.
        """

    def incomplete(self, checkpoint: Checkpoint) -> str | None:
        """Return why ``checkpoint`` is not completely written yet, or None when it is.

        A source that cannot tell (an online hub repo, whose commits are atomic) says None.
        """
        return None

    def weight_files(self, checkpoint: Checkpoint) -> list[Path]:
        """Return the local files ``load`` will read the checkpoint's weights from.

        Empty when they are not on local disk (yet): a sweep reads the files it gets here
        ahead of the load (:mod:`tracker.sources.prefetch`), and nothing otherwise.
        """
        return []

    def download(self, checkpoint: Checkpoint) -> list[Path]:
        """Make the checkpoint's weights local (where the series downloads) and name them.

        Runs on a background thread ahead of ``load`` (a sweep's next checkpoint); sources
        whose files are on disk already just return :meth:`weight_files`.
        """
        return self.weight_files(checkpoint)

    def evict(self, checkpoint: Checkpoint) -> int:
        """Delete the downloaded files only ``checkpoint`` uses; return the bytes freed.

        Sources that hold no download (local folders) free nothing.
        """
        return 0

    def describe(self) -> dict[str, str]:
        """Return provenance facts stored with results (kind, location)."""
        return {"kind": type(self).__name__, "series_id": self.series_id}
