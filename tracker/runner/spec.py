"""What a sweep config describes, as plain frozen data (parsed by :mod:`.config`).

Everything here pickles, so a worker process or a Ray task on another machine rebuilds the
series and the probes from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tracker.sources import CheckpointSeries, open_series

ExecutorKind = Literal["sequential", "processes", "ray"]
EXECUTORS: tuple[str, ...] = ("sequential", "processes", "ray")


@dataclass(frozen=True)
class SeriesSpec:
    """One series of a sweep: where its checkpoints are and where its store goes.

    Attributes:
        name: Short name (the store's file name and the W&B run name).
        kind: ``hub`` (a repo's ``step{N}`` revisions) or ``folder``.
        location: Repo id or folder path.
        store: Path of the series store.
        revisions: Hub revisions to keep (None: all).
        cache_dir: Hub cache root.
        online: List and download from the hub even with a cache dir.
        tokens_per_step: Override of tokens per step.
        pattern: Glob of checkpoint folders (folders only).
    """

    name: str
    kind: Literal["hub", "folder"]
    location: str
    store: Path
    revisions: tuple[str, ...] | None = None
    cache_dir: str | None = None
    online: bool = False
    tokens_per_step: int | None = None
    pattern: str | None = None

    def open(self) -> CheckpointSeries:
        """Open the series (offline from ``cache_dir`` unless ``online``)."""
        return open_series(self.location, cache_dir=self.cache_dir,
                           local_files_only=False if self.online else None,
                           tokens_per_step=self.tokens_per_step, pattern=self.pattern)


@dataclass(frozen=True)
class ProbeSet:
    """Which probes a sweep runs, as data a worker can rebuild them from."""

    names: tuple[str, ...] | None = None
    configs: tuple[tuple[str, str], ...] = ()
    text_dataset: str | None = None

    def build(self) -> list[Any]:
        """Instantiate the probes (a default set drops probes lacking data)."""
        import json

        from tracker.probes import make_probes

        configs = {name: json.loads(fields) for name, fields in self.configs}
        probes = make_probes(list(self.names) if self.names else None, **configs)
        if self.text_dataset is not None:
            probes = [p.with_text(Path(self.text_dataset)) for p in probes]
        if self.names is None:
            probes = [p for p in probes if p.has_data()]
        return probes


@dataclass(frozen=True)
class ExecutorConfig:
    """How and where checkpoints are processed (see :mod:`tracker.runner.executors`)."""

    kind: ExecutorKind = "sequential"
    workers: int | None = None
    device: str = "auto"
    dtype: str = "float32"
    batch_size: int = 64
    retries: int = 2
    address: str | None = None
    cpus_per_task: float = 1.0
    gpus_per_task: float | None = None


@dataclass(frozen=True)
class WandbConfig:
    """W&B settings of a scheduled sweep (one resumed run per series)."""

    enabled: bool = False
    project: str = "tracker"
    group: str | None = None
    mode: str | None = None
    dir: str | None = None
    heatmaps: bool = True


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep config (see the module docstring for the file format)."""

    path: Path
    series: tuple[SeriesSpec, ...]
    steps: str | None = None
    probe_names: tuple[str, ...] | None = None
    probe_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    text_dataset: str | None = None
    detect: bool = True
    detect_options: dict[str, Any] = field(default_factory=dict)
    wandb: WandbConfig = WandbConfig()
    executor: ExecutorConfig = ExecutorConfig()
    evict: bool = False
    stale_after: float = 3600.0

    def probe_set(self) -> ProbeSet:
        """Return the configured probes as data a worker rebuilds them from."""
        import json

        configs = tuple(sorted((name, json.dumps(fields, sort_keys=True))
                               for name, fields in self.probe_configs.items()))
        return ProbeSet(self.probe_names, configs, self.text_dataset)
