"""Log series stores to Weights & Biases: live during a sweep, or replayed from a store.

The store is the source of truth; W&B gets a view of it. Both paths go through
:class:`WandbStepLogger`, so a live sweep and a later replay of its store log identical rows.

W&B steps only move forward (a lower step is dropped). The W&B step is the *training step*:
sweeps visit checkpoints in step order, a resumed sweep replays its stored steps first and
in order, and a replay walks the store in order, so the training step is monotonic in every
path and identical across them. Anything that would go backwards is skipped and reported,
never logged out of order. Charts use ``tokens`` as their x axis (``define_metric``), with
``train_step`` logged beside it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from tracker import __version__
from tracker.errors import TrackerError
from tracker.events import read_store_events
from tracker.views.circuits import PreviousCircuits
from tracker.views.metrics import (
    Reading,
    aggregate_names,
    readings_from_shard,
    readings_from_store,
    step_aggregates,
)

log = logging.getLogger(__name__)

WANDB_MODES = ("online", "offline", "disabled")


def import_wandb() -> ModuleType:
    """Import wandb, or raise a TrackerError saying how to install it."""
    try:
        import wandb
    except ImportError as exc:
        raise TrackerError("W&B logging needs the wandb package, which is not installed: "
                           "pip install 'tracker[wandb]'") from exc
    return wandb


def _reinit(wandb: ModuleType) -> Any:
    """Never take over (or finish) a run the caller already has open, where wandb allows."""
    version = tuple(int(x) for x in re.findall(r"\d+", wandb.__version__)[:3])
    return "create_new" if version >= (0, 19, 10) else True


def _next_step(run: Any) -> int:
    try:
        return int(run.step or 0)
    except Exception:  # noqa: BLE001 - disabled/shared runs may not report a step
        return 0


def artifact_name(series_id: str) -> str:
    """W&B artifact name of a series store (letters, digits, ``-_.`` only)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", series_id).strip("-") + "-store"


def _probe_config(version: int, key: str, config_json: str) -> dict[str, Any]:
    import json

    return {"version": int(version), "key": key, "config": json.loads(config_json or "{}")}


class WandbStepLogger:
    """One W&B run for one series, fed a step at a time in step order.

    Args:
        series_id: Series identifier (the run's name).
        store_path: The series store; its events and the file itself go to W&B on finish.
        project: W&B project.
        group: W&B group (one per sweep over sizes).
        job_type: ``sweep`` for live logging, ``replay`` for stores.
        mode: ``online``, ``offline`` or ``disabled`` (default: wandb's, e.g. WANDB_MODE).
        dir: Folder for W&B's local files.
        config: Extra run config (provenance, tokens per step...).
        keys: Variant key per probe, used when a shard holds several variants.
        heatmaps: Log a layer x head heatmap image per head metric per step.
        heatmap_ranges: Fixed colour range per ``probe/name`` (otherwise [0, 1] widened to
            the data as it arrives, so the image slider compares like with like).
        artifact: Attach the store file as an artifact on finish.
        tags: Run tags.
        run_id: Resume (or create) the run with this id: a scheduled sweep's runs for one
            series all log into one W&B run.

    Raises:
        TrackerError: If wandb is not installed or the mode is unknown.
    """

    def __init__(self, series_id: str, store_path: str | os.PathLike[str] | None,
                 project: str = "tracker", group: str | None = None, job_type: str = "sweep",
                 mode: str | None = None, dir: str | os.PathLike[str] | None = None,
                 config: dict[str, Any] | None = None, keys: dict[str, str] | None = None,
                 heatmaps: bool = True,
                 heatmap_ranges: dict[str, tuple[float, float]] | None = None,
                 artifact: bool = True, tags: Sequence[str] = (),
                 run_id: str | None = None) -> None:
        if mode is not None and mode not in WANDB_MODES:
            raise TrackerError(f"--mode {mode!r}: expected one of {', '.join(WANDB_MODES)}")
        self.wandb = import_wandb()
        self.series_id = series_id
        self.store_path = Path(store_path) if store_path is not None else None
        self.keys = dict(keys or {})
        self.heatmaps = heatmaps
        self.ranges = dict(heatmap_ranges or {})
        self.artifact = artifact
        self.last_step = -1
        self.logged_steps: list[int] = []
        self.skipped_steps: list[int] = []
        self._defined: set[str] = set()
        self._probes: dict[str, dict[str, Any]] = {}
        self._finished = False
        # Circuit similarity to the previous checkpoint, computed as steps arrive.
        self.circuits = PreviousCircuits()
        if dir is not None:
            Path(dir).mkdir(parents=True, exist_ok=True)
        try:
            self.run = self.wandb.init(
                project=project, group=group, job_type=job_type, name=series_id, mode=mode,
                dir=str(dir) if dir is not None else None, tags=list(tags),
                config={"series_id": series_id, "tracker_version": __version__,
                        "store": str(self.store_path or "")} | (config or {}),
                reinit=_reinit(self.wandb),
                **({"id": run_id, "resume": "allow"} if run_id else {}),
            )
        except self.wandb.errors.Error as exc:  # e.g. online mode without an API key
            raise TrackerError(f"{series_id}: W&B could not start a run: {exc} (--mode offline "
                               "logs without an account; `wandb sync` uploads later)") from exc
        # A resumed W&B run already holds steps; anything at or below them would be dropped.
        self.last_step = max(-1, _next_step(self.run) - 1)
        self.run.define_metric("tokens")
        self.run.define_metric("train_step", step_metric="tokens")
        self.run.define_metric("*", step_metric="tokens")

    @property
    def run_dir(self) -> Path | None:
        """The run's local folder (holding ``run-<id>.wandb``), or None when disabled."""
        files = getattr(self.run, "dir", None)
        return Path(files).parent if files else None

    def note_probe(self, probe: str, version: int, key: str, config_json: str) -> None:
        """Record a probe variant's version and config in the run config (once each)."""
        if probe in self._probes and self._probes[probe]["key"] == key:
            return
        self._probes[probe] = _probe_config(version, key, config_json)
        self.run.config.update({"probes": dict(self._probes)}, allow_val_change=True)

    def on_step(self, checkpoint: Any, shard: Any) -> None:
        """Sweep callback: log one stored step (``sweep(..., on_step=logger.on_step)``)."""
        for (probe, key), result in sorted(shard.results.items()):
            if self.keys.get(probe, key) == key:
                self.note_probe(probe, result.version, key, result.config_json)
        if self.circuits.graph is None:
            from tracker.wandb_logging.circuits import shard_graph

            self.circuits.graph = shard_graph(shard, self.keys)
        self.log_step(int(shard.step), int(shard.tokens), readings_from_shard(shard, self.keys))

    def log_step(self, step: int, tokens: int, readings: Sequence[Reading]) -> bool:
        """Log one checkpoint's aggregates (and heatmaps) at W&B step ``step``.

        Returns:
            False (and nothing logged) if ``step`` is not above the last logged step.
        """
        if step <= self.last_step:
            log.warning("%s: W&B step %d is not after %d; skipped to keep the history in order",
                        self.series_id, step, self.last_step)
            self.skipped_steps.append(step)
            return False
        row: dict[str, Any] = {"tokens": tokens, "train_step": step}
        row.update(step_aggregates(readings))
        row.update(self.circuits.update(readings))
        self._define(readings)
        if self.heatmaps:
            row.update(self._heatmaps(step, tokens, readings))
        self.run.log(row, step=step)
        self.last_step = step
        self.logged_steps.append(step)
        return True

    def _define(self, readings: Sequence[Reading]) -> None:
        """Summaries that mean something: best value ever, final counts."""
        for metric, _ in readings:
            for role, name in aggregate_names(metric).items():
                if name in self._defined:
                    continue
                summary = {"best": "min" if metric.lower_is_mechanism else "max",
                           "count": "last", "value": "last", "mean": "last"}[role]
                self.run.define_metric(name, step_metric="tokens", summary=summary)
                self._defined.add(name)

    def _heatmaps(self, step: int, tokens: int, readings: Sequence[Reading]) -> dict[str, Any]:
        from tracker.labels import format_tokens
        from tracker.views.heatmap import heatmap_array

        images = {}
        for metric, raw in readings:
            value = np.asarray(raw, dtype=float)
            if metric.kind != "head" or value.ndim != 2 or not np.isfinite(value).any():
                continue
            key = f"{metric.probe}/{metric.name}"
            lo, hi = self.ranges.get(key, (0.0, 1.0))
            lo, hi = min(lo, float(np.nanmin(value))), max(hi, float(np.nanmax(value)))
            self.ranges[key] = (lo, hi)
            caption = (f"{metric.name} @ step {step:,} ({format_tokens(tokens)} tokens); rows: "
                       f"layers 0-{value.shape[0] - 1}, columns: heads 0-{value.shape[1] - 1}; "
                       f"colour scale {lo:.2g}-{hi:.2g} (viridis)")
            images[f"heatmaps/{key}"] = self.wandb.Image(heatmap_array(value, lo, hi),
                                                         caption=caption)
        return images

    def finish(self, exit_code: int = 0) -> None:
        """Log events, circuits, LLC stages and the store artifact (if the store exists); finish.

        Safe to call twice; call it in a ``finally`` so a failed sweep still closes its run.
        """
        if self._finished:
            return
        self._finished = True
        try:
            if self.store_path is not None and self.store_path.exists():
                extras = [("events table", self._log_events), ("circuits", self._log_circuits),
                          ("LLC stages", self._log_llc)]
                if self.artifact:
                    extras.append(("store artifact", self._log_artifact))
                for what, extra in extras:
                    # Extras must not fail a sweep whose results are already safely stored.
                    try:
                        extra()
                    except (TrackerError, OSError) as exc:
                        log.warning("%s: W&B %s skipped: %s", self.series_id, what, exc)
        finally:
            self.run.finish(exit_code=exit_code)

    def _log_events(self) -> None:
        assert self.store_path is not None
        events = read_store_events(self.store_path, self.series_id)
        # Isolated outliers (kind ``outlier``, confidence 0) are quality warnings, not events.
        warnings = int((events["kind"] == "outlier").sum()) if len(events) else 0
        self.run.summary["n_events"] = len(events) - warnings
        self.run.summary["n_quality_warnings"] = warnings
        if not len(events):
            return
        table = self.wandb.Table(dataframe=events.reset_index(drop=True))
        # Same step as the last row: W&B merges it there instead of dropping a lower step.
        self.run.log({"events": table}, step=max(self.last_step, 0))

    def _log_circuits(self) -> None:
        """Similarity to the final circuit, drawings and role tables: known only at the end."""
        from tracker.wandb_logging.circuits import circuit_summary

        assert self.store_path is not None
        row = circuit_summary(self.wandb, self.store_path)
        if row:
            self.run.log(row, step=max(self.last_step, 0))  # merged into the last row

    def _log_llc(self) -> None:
        """Log the LLC curve with its stage boundaries (known once the curve is complete)."""
        from tracker.wandb_logging.llc import llc_summary

        assert self.store_path is not None
        row = llc_summary(self.wandb, self.store_path)
        if row:
            self.run.log(row, step=max(self.last_step, 0))  # merged into the last row

    def _log_artifact(self) -> None:
        assert self.store_path is not None
        artifact = self.wandb.Artifact(artifact_name(self.series_id), type="tracker-store",
                                       metadata={"series_id": self.series_id,
                                                 "steps": len(self.logged_steps),
                                                 "tracker_version": __version__})
        artifact.add_file(str(self.store_path), name=self.store_path.name)
        self.run.log_artifact(artifact)

    def __enter__(self) -> WandbStepLogger:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)


def make_wandb_step_logger(
    series: Any, store_path: str | os.PathLike[str], project: str = "tracker",
    group: str | None = None, mode: str | None = None, dir: str | os.PathLike[str] | None = None,
    probes: Sequence[Any] = (), heatmaps: bool = True, artifact: bool = True,
) -> tuple[Callable[[Any, Any], None], Callable[..., None]]:
    """Start a W&B run for a sweep; return ``(on_step, finish)``.

    Pass ``on_step`` to ``sweep(..., on_step=on_step)`` and call ``finish()`` (or
    ``finish(exit_code=1)`` on failure) after the sweep has consolidated the store.

    Args:
        series: The ``CheckpointSeries`` being swept.
        store_path: The sweep's store path.
        project: W&B project.
        group: W&B group (default: the model family, e.g. ``pythia``).
        mode: ``online``, ``offline`` or ``disabled`` (default: wandb's own setting).
        dir: Folder for W&B's local files.
        probes: The sweep's probes: their versions and configs go in the run config up
            front, and their variant keys pick what is logged.
        heatmaps: Log layer x head heatmap images per step.
        artifact: Attach the store as an artifact on finish.
    """
    from tracker.labels import default_group

    logger = WandbStepLogger(
        series.series_id, store_path, project=project,
        group=group or default_group([series.series_id]), job_type="sweep", mode=mode, dir=dir,
        config={"tokens_per_step": int(series.tokens_per_step), "provenance": series.describe()},
        keys={p.name: p.key for p in probes}, heatmaps=heatmaps, artifact=artifact,
        tags=[p.name for p in probes],
    )
    for probe in probes:
        logger.note_probe(probe.name, probe.version, probe.key, probe.config.to_json())
    return logger.on_step, logger.finish


def log_store(store_path: str | os.PathLike[str], project: str = "tracker",
              group: str | None = None, mode: str | None = None,
              dir: str | os.PathLike[str] | None = None, heatmaps: bool = True,
              artifact: bool = True) -> WandbStepLogger:
    """Replay one series store into a new W&B run, in step order, and finish the run.

    Returns:
        The finished logger (``run_dir``, ``logged_steps``, ``run.id``...).

    Raises:
        TrackerError: If wandb is missing or the store is unreadable.
    """
    from tracker.labels import default_group
    from tracker.store import SeriesStore
    from tracker.views.heatmap import heatmap_range

    import_wandb()  # fail on a missing wandb before reading anything
    store = SeriesStore(store_path)
    ranges = {f"{i.probe}/{i.name}": heatmap_range(store.metric(i.probe, i.name))
              for i in store.metric_infos() if i.kind == "head"}
    repeated = [int(s) for s in store.steps[store.repeated_weights]]
    logger = WandbStepLogger(
        store.series_id, store.path, project=project,
        group=group or default_group([store.series_id]), job_type="replay", mode=mode,
        dir=dir, config={"tokens_per_step": store.tokens_per_step,
                         "provenance": store.provenance, "repeated_weight_steps": repeated,
                         "n_checkpoints": len(store.steps)},
        keys={p: store.resolve_key(p) for p, _ in store.variants()}, heatmaps=heatmaps,
        heatmap_ranges=ranges, artifact=artifact, tags=sorted({p for p, _ in store.variants()}),
    )
    if any(p == "circuits" for p, _ in store.variants()):
        from tracker.events.circuits import circuit_graph

        logger.circuits.graph = circuit_graph(store)
    try:
        for probe, key in logger.keys.items():
            attrs = store.variant_attrs(probe, key)
            logger.note_probe(probe, attrs["probe_version"], key, str(attrs["config_json"]))
        order = np.argsort(store.steps, kind="stable")  # stores are sorted; never trust it
        for index in order:
            logger.log_step(int(store.steps[index]), int(store.tokens[index]),
                            readings_from_store(store, int(index)))
    except BaseException:
        logger.finish(exit_code=1)
        raise
    logger.finish()
    return logger
