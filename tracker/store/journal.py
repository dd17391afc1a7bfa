"""The sweep journal: what scheduled sweeps of one store did, beside the store.

``STORE.journal.json`` records what the shards cannot: the checkpoints that failed (with the
error, so ``tracker status`` can say why), the last runs (when, how much, how fast), the W&B
run the series logs to and the last step logged there, and the checkpoints evicted from the
Hugging Face cache. Which steps are *done* is never read from here: the shards say that, so a
kill between writing a shard and updating the journal loses nothing. Only the holder of the
sweep lock writes it, through a temporary file renamed into place.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Runs kept in the journal (older ones are dropped).
KEEP_RUNS = 20


def journal_path(store_path: str | os.PathLike[str]) -> Path:
    """Path of a store's journal."""
    return Path(f"{store_path}.journal.json")


@dataclass
class RunRecord:
    """One scheduled sweep of a store.

    Attributes:
        started: Wall-clock start (seconds since the epoch).
        seconds: Duration.
        executor: Executor name.
        computed_steps: Checkpoints computed.
        failed_steps: Checkpoints that failed.
        skipped_incomplete: Checkpoints left for later because still being written.
        outcome: ``ok``, ``failed`` or ``busy`` (another sweep held the lock).
    """

    started: float
    seconds: float = 0.0
    executor: str = "sequential"
    computed_steps: int = 0
    failed_steps: int = 0
    skipped_incomplete: int = 0
    outcome: str = "ok"


@dataclass
class Journal:
    """The journal of one store (see the module docstring).

    Attributes:
        failures: Step (as text, JSON keys are strings) -> {"error", "at", "attempts"}.
        runs: Recent runs, oldest first.
        wandb_run_id: Id of the W&B run the series logs to ('' before the first).
        wandb_last_step: Last training step logged to W&B (-1: none).
        evicted: Steps whose downloaded snapshot was evicted from the cache.
    """

    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[RunRecord] = field(default_factory=list)
    wandb_run_id: str = ""
    wandb_last_step: int = -1
    evicted: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, store_path: str | os.PathLike[str]) -> Journal:
        """Read a store's journal; a missing or damaged one reads as empty (with a warning).

        Nothing in it is needed to keep results correct, so a damaged journal costs history,
        never results.
        """
        path = journal_path(store_path)
        try:
            data = json.loads(path.read_text())
            return cls(
                failures={str(k): dict(v) for k, v in data.get("failures", {}).items()},
                runs=[RunRecord(**r) for r in data.get("runs", [])],
                wandb_run_id=str(data.get("wandb_run_id", "")),
                wandb_last_step=int(data.get("wandb_last_step", -1)),
                evicted=[int(s) for s in data.get("evicted", [])],
            )
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("%s: unreadable sweep journal (%s); starting a new one", path, exc)
            return cls()

    def save(self, store_path: str | os.PathLike[str]) -> Path:
        """Write the journal atomically (temporary file, fsync, rename)."""
        path = journal_path(store_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Runs that did work are what throughput is measured on; a cron every ten minutes
        # mostly finds nothing new, so idle runs are not kept beyond the latest one.
        worked = [r for r in self.runs if r.computed_steps or r.failed_steps][-KEEP_RUNS:]
        if self.runs and self.runs[-1] not in worked:
            worked.append(self.runs[-1])
        self.runs = worked
        data = {"failures": self.failures, "runs": [asdict(r) for r in self.runs],
                "wandb_run_id": self.wandb_run_id, "wandb_last_step": self.wandb_last_step,
                "evicted": sorted(set(self.evicted))}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk must not leave a half file behind
            raise
        return path

    def record_failure(self, step: int, error: str) -> None:
        """Note that ``step`` failed with ``error`` (attempts are counted)."""
        entry = self.failures.get(str(step), {"attempts": 0})
        self.failures[str(step)] = {"error": error, "at": time.time(),
                                    "attempts": int(entry.get("attempts", 0)) + 1}

    def clear_failure(self, step: int) -> None:
        """Forget a failure once the step has been computed."""
        self.failures.pop(str(step), None)

    def failed_steps(self) -> dict[int, str]:
        """Failed step -> error."""
        return {int(k): str(v.get("error", "")) for k, v in sorted(self.failures.items(),
                                                                   key=lambda kv: int(kv[0]))}
