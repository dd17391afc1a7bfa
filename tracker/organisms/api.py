"""Public entry points: train a suite (or reuse it) and describe what is on disk.

Artifacts live under one root (``--root``, else ``$TRACKER_ORGANISMS_ROOT``, else
``~/.cache/tracker/organisms``)::

    ROOT/corpus/<corpus key>/        documents, tokenizer, token streams
    ROOT/hub/models--organisms--*/   one hub-layout cache per model (refs/step{N})
    ROOT/state/<repo>/state.pt       resume state of a model still training
    ROOT/suites/<suite>.json         timing and model list of the last completed run

Load a trained model exactly like Pythia:
``open_series("organisms/neox-l-seed0", cache_dir=ROOT / "hub")``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.cores import usable_cores
from tracker.errors import TrackerError
from tracker.organisms.corpus import Corpus, build_corpus
from tracker.organisms.suite import ModelSpec, SuiteSpec, get_suite
from tracker.organisms.train import TrainResult, is_complete, train_model
from tracker.sources.hf_cache import repo_folder
from tracker.sources.metadata import read_series_meta

ROOT_ENV = "TRACKER_ORGANISMS_ROOT"


class OrganismError(TrackerError):
    """An organism suite cannot be trained or found."""


def default_root() -> Path:
    """Return the artifact root: ``$TRACKER_ORGANISMS_ROOT`` or ``~/.cache/tracker/organisms``."""
    env = os.environ.get(ROOT_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tracker" / "organisms"


@dataclass(frozen=True)
class OrganismInfo:
    """One model of a suite as it stands on disk.

    Attributes:
        repo_id: Hub-style repo id (``organisms/neox-l-seed0``).
        cache_dir: Hub cache root to pass to ``open_series``.
        size: Size label.
        seed: Seed.
        n_layers: Layers.
        d_model: Width.
        n_heads: Heads per layer.
        steps: Checkpoint steps of the schedule.
        tokens_per_step: Tokens per optimiser step.
        complete: Whether every checkpoint is written.
        train_seconds: Training compute time recorded so far (excluding checkpoint writes).
        tokens_per_second: Training speed of the completed run (0 while incomplete).
        architecture: Hugging Face ``model_type`` (``gpt_neox`` or ``llama``).
    """

    repo_id: str
    cache_dir: Path
    size: str
    seed: int
    n_layers: int
    d_model: int
    n_heads: int
    steps: tuple[int, ...]
    tokens_per_step: int
    complete: bool
    train_seconds: float = 0.0
    tokens_per_second: float = 0.0
    architecture: str = "gpt_neox"

    def open(self) -> Any:
        """Open the model's checkpoint series (``tracker.sources.open_series``)."""
        from tracker.sources import open_series

        return open_series(self.repo_id, cache_dir=self.cache_dir)


@dataclass
class SuiteInfo:
    """A suite on disk.

    Attributes:
        name: Suite name.
        root: Artifact root.
        cache_dir: Hub cache root holding every model.
        corpus_dir: Folder of the shared corpus.
        models: The models, in suite order.
        wall_seconds: Wall time of the call that returned this (0 when all was cached).
        results: Per-model outcome of that call.
    """

    name: str
    root: Path
    cache_dir: Path
    corpus_dir: Path
    models: list[OrganismInfo]
    wall_seconds: float = 0.0
    results: list[TrainResult] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every model is fully trained."""
        return all(m.complete for m in self.models)

    def model(self, size: str, seed: int = 0) -> OrganismInfo:
        """Return the model of a size and seed.

        Raises:
            OrganismError: If the suite has no such model.
        """
        for info in self.models:
            if info.size == size and info.seed == seed:
                return info
        raise OrganismError(f"suite {self.name!r} has no model of size {size!r}, seed {seed}")

    def corpus(self) -> Corpus:
        """Return the suite's corpus (tokenizer, dataset, token streams)."""
        return Corpus(self.corpus_dir)


def _resolve_root(root: str | os.PathLike[str] | None) -> Path:
    return Path(root).expanduser() if root is not None else default_root()


def _info(suite: SuiteSpec, spec: ModelSpec, cache_dir: Path) -> OrganismInfo:
    meta = read_series_meta(repo_folder(cache_dir, suite.repo_id(spec)))
    return OrganismInfo(
        repo_id=suite.repo_id(spec), cache_dir=cache_dir, size=spec.size, seed=spec.seed,
        n_layers=spec.n_layers, d_model=spec.d_model, n_heads=spec.n_heads,
        steps=tuple(spec.checkpoint_steps()), tokens_per_step=spec.tokens_per_step,
        complete=is_complete(suite, spec, cache_dir),
        train_seconds=float(meta.get("train_seconds", 0.0)) if meta.get("key") == spec.key(
            suite.corpus) else 0.0,
        tokens_per_second=float(meta.get("tokens_per_second", 0.0)),
        architecture=spec.architecture,
    )


def suite_info(
    suite_name: str = "default", root: str | os.PathLike[str] | None = None
) -> SuiteInfo:
    """Describe a suite's models as they stand on disk, training nothing.

    Args:
        suite_name: A suite of :func:`tracker.organisms.suite_names` (``default``, ``tiny``,
            ``default-llama``, ...).
        root: Artifact root (default :func:`default_root`).
    """
    suite = get_suite(suite_name)
    base = _resolve_root(root)
    cache_dir = base / "hub"
    return SuiteInfo(
        name=suite.name, root=base, cache_dir=cache_dir,
        corpus_dir=base / "corpus" / suite.corpus.key(),
        models=[_info(suite, spec, cache_dir) for spec in suite.models],
    )


def default_threads() -> int:
    """CPU threads for training: the cores this process may run on."""
    return usable_cores()


def train_suite(
    suite_name: str = "default",
    root: str | os.PathLike[str] | None = None,
    *,
    threads: int | None = None,
    stop_after: int | None = None,
    progress: bool = True,
    only: Sequence[str] | None = None,
) -> SuiteInfo:
    """Train every model of a suite that is not complete; return at once if all are.

    Training resumes from the last checkpoint of a model interrupted earlier. The corpus is
    built (or reused) first and shared by all models.

    Args:
        suite_name: A suite of :func:`tracker.organisms.suite_names` (``default``, ``tiny``,
            ``default-llama``, ...).
        root: Artifact root (default :func:`default_root`).
        threads: Torch CPU threads (default: all usable cores). Resuming is bit-exact only
            with the thread count of the interrupted run.
        stop_after: Stop each model after writing this many checkpoints in this call (a
            simulated kill, for tests).
        progress: Show progress bars.
        only: Repo ids of the models to train (default: all), so a caller can train, sweep
            and report one model before the next (``tracker demo``).

    Returns:
        The suite as it now stands, with wall time and per-model results of this call.
    """
    import torch

    started = time.perf_counter()
    info = suite_info(suite_name, root)
    wanted = [m for m in info.models if only is None or m.repo_id in only]
    if all(m.complete for m in wanted):
        return info
    suite = get_suite(suite_name)
    corpus = build_corpus(suite.corpus, info.root)
    previous = torch.get_num_threads()
    # Small models on few cores: intra-op threads only; more threads than cores just thrash.
    torch.set_num_threads(threads or default_threads())
    try:
        results = [train_model(suite, spec, corpus, info.root, stop_after=stop_after,
                               progress=progress) for spec in suite.models
                   if only is None or suite.repo_id(spec) in only]
    finally:
        torch.set_num_threads(previous)
    done = suite_info(suite_name, root)
    done.wall_seconds = time.perf_counter() - started
    done.results = results
    if done.complete:
        _write_manifest(done)
    return done


def _write_manifest(info: SuiteInfo) -> None:
    folder = info.root / "suites"
    folder.mkdir(parents=True, exist_ok=True)
    ran = [r for r in info.results if not r.cached]
    payload = {
        "suite": info.name,
        "cache_dir": str(info.cache_dir),
        "corpus_dir": str(info.corpus_dir),
        "wall_seconds": round(info.wall_seconds, 2),
        "models": [
            {**{k: (str(v) if isinstance(v, Path) else v)
                for k, v in dataclasses.asdict(m).items() if k != "steps"},
             "n_checkpoints": len(m.steps), "final_step": m.steps[-1]}
            for m in info.models
        ],
        "trained_in_this_call": [r.repo_id for r in ran],
    }
    (folder / f"{info.name}.json").write_text(json.dumps(payload, indent=1))
