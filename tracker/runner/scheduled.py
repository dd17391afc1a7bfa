"""Scheduled sweeps: ``tracker sweep CONFIG``, safe to run from cron every few minutes.

A run takes each series' sweep lock (a series another live sweep holds is left to it), plans
what is new (checkpoints with probes not yet stored, minus those still being written),
hands every planned (series, step) of every series to the executor at once, then, per series:
settles which steps repeat the previous step's weights, consolidates the store, runs
detection, publishes the new steps (to W&B, in step order), writes the journal and lets the
lock go. Nothing is done twice: a step whose shard holds every probe is never loaded again, so
a run with nothing new only reads shard headers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py

from tracker.errors import StoreError, TrackerError
from tracker.runner.executors import Executor, make_executor
from tracker.runner.spec import SeriesSpec, SweepConfig
from tracker.runner.tasks import StepOutcome, StepTask
from tracker.sources import Checkpoint, CheckpointSeries, select_steps
from tracker.sources.completeness import is_corrupt
from tracker.store import (
    Journal,
    LockBusyError,
    RunRecord,
    StepShard,
    SweepLock,
    consolidate,
    list_shards,
    quarantine_shard,
    read_shard,
    shard_path,
    write_shard,
)
from tracker.store.shards import remove_stale_temporaries

log = logging.getLogger(__name__)

#: Publishes a series' newly stored steps (in step order); returns the last step published.
#: Arguments: the series spec, the open series, the store path, the shards, the journal.
Publisher = Callable[[SeriesSpec, CheckpointSeries, Path, list[StepShard], Journal], int]


@dataclass
class SeriesPlan:
    """What a sweep of one series would do now (``tracker status`` prints it).

    Attributes:
        spec: The series.
        series: The open series ('' errors leave it None).
        chosen: Selected checkpoints that exist.
        done: Steps whose shard holds every probe.
        tasks: Work to do: (checkpoint, pending (probe, key) pairs).
        incomplete: Step -> why it is skipped for now (still being written).
        broken: Step -> why its files can never load (corrupt, not in progress).
        missing: Listed steps (``steps.list``) the series does not have yet.
        corrupt: Shards found unreadable (moved aside; their steps are in ``tasks``).
        error: Why the series could not be planned ('' if it could).
    """

    spec: SeriesSpec
    series: CheckpointSeries | None = None
    chosen: list[Checkpoint] = field(default_factory=list)
    done: list[int] = field(default_factory=list)
    tasks: list[tuple[Checkpoint, tuple[tuple[str, str], ...]]] = field(default_factory=list)
    incomplete: dict[int, str] = field(default_factory=dict)
    broken: dict[int, str] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    error: str = ""


def _choose(series: CheckpointSeries, spec: SeriesSpec, steps: str | None
            ) -> tuple[list[Checkpoint], list[int]]:
    available = series.checkpoints()
    if spec.revisions is not None:
        available = [c for c in available if c.revision in spec.revisions]
    by_step = {c.step: c for c in available}
    missing: list[int] = []
    if steps and all(tok.strip().isdigit() for tok in steps.split(",")):
        # A fixed list: steps the run has not written yet are waited for, not an error.
        wanted = [int(tok) for tok in steps.split(",")]
        missing = [s for s in wanted if s not in by_step]
        return [by_step[s] for s in wanted if s in by_step], missing
    return [by_step[s] for s in select_steps(list(by_step), steps)], missing


def plan_series(spec: SeriesSpec, config: SweepConfig, probes: Sequence[Any],
                repair: bool = False) -> SeriesPlan:
    """Work out what a sweep of ``spec`` has to do.

    Args:
        spec: The series.
        config: The sweep config (step selection).
        probes: The probe instances (their keys say what is stored).
        repair: Move unreadable shards aside (only the lock holder may).

    Returns:
        The plan; ``plan.error`` says why there is none.
    """
    plan = SeriesPlan(spec)
    try:
        plan.series = spec.open()
        plan.chosen, plan.missing = _choose(plan.series, spec, config.steps)
    except TrackerError as exc:
        plan.error = str(exc)
        return plan
    wanted = [(p.name, p.key) for p in probes]
    for ckpt in plan.chosen:
        path = shard_path(spec.store, ckpt.step)
        stored: set[tuple[str, str]] = set()
        if path.exists():
            try:
                shard = read_shard(path)
                if shard.series_id != plan.series.series_id:
                    plan.error = (f"{path}: holds series {shard.series_id!r}, not "
                                  f"{plan.series.series_id!r}; give the series its own store")
                    return plan
                stored = set(shard.results)
            except StoreError as exc:
                plan.corrupt.append(str(exc))
                if repair:
                    moved = quarantine_shard(path)
                    log.warning("%s; moved aside to %s, step %d is computed again",
                                exc, moved.name, ckpt.step)
        pending = tuple(k for k in wanted if k not in stored)
        if not pending:
            plan.done.append(ckpt.step)
            continue
        why = plan.series.incomplete(ckpt)
        if is_corrupt(why):
            plan.broken[ckpt.step] = f"{plan.series.series_id}@{ckpt.revision}: {why}"
            continue
        if why is not None:
            plan.incomplete[ckpt.step] = why
            continue
        plan.tasks.append((ckpt, pending))
    return plan


@dataclass
class SeriesResult:
    """What a scheduled sweep did to one series."""

    name: str
    store: Path
    computed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    incomplete: dict[int, str] = field(default_factory=dict)
    done_before: int = 0
    busy: str = ""
    error: str = ""
    notes: list[str] = field(default_factory=list)
    repeated: list[tuple[int, int]] = field(default_factory=list)
    evicted_bytes: int = 0
    published: int = 0
    seconds: float = 0.0
    #: Probe name -> steps at which some of its metrics came back entirely NaN.
    all_nan: dict[str, list[int]] = field(default_factory=dict)


def mark_repeats(store: Path, chosen: Sequence[Checkpoint]) -> tuple[list[tuple[int, int]], int]:
    """Record in each shard whether it repeats the previous stored step's weights.

    Tasks run apart, so the comparison a sequential sweep makes as it goes is made here, in
    step order over the chosen steps. Every shard is checked, not only this run's: a run
    killed between writing shards and marking them leaves flags for the next run to settle.

    Returns:
        (earlier step, step) pairs with identical weights, and how many shards were rewritten.
    """
    pairs, rewritten = [], 0
    previous: StepShard | None = None
    for ckpt in chosen:
        path = shard_path(store, ckpt.step)
        if not path.exists():
            continue
        shard = read_shard(path)
        same = previous is not None and previous.checkpoint_hash == shard.checkpoint_hash
        want = previous.step if same and previous is not None else -1
        if same:
            pairs.append((want, ckpt.step))
        if shard.repeats_step != want:
            shard.repeats_step = want
            write_shard(store, shard)
            rewritten += 1
        previous = shard
    return pairs, rewritten


def _stale(store: Path) -> bool:
    """Whether the consolidated file is missing, damaged, or older than a shard.

    A run killed after writing shards but before consolidating leaves exactly this; the
    next run, finding nothing new to compute, still consolidates.
    """
    if not store.exists() or not _consolidated_ok(store):
        return True
    built = store.stat().st_mtime_ns
    return any(p.stat().st_mtime_ns > built for p in list_shards(store))


def _events_current(store: Path) -> bool:
    from tracker.events.io import events_meta, steps_digest
    from tracker.store import SeriesStore

    meta = events_meta(store)
    return bool(meta) and meta.get("steps_digest") == steps_digest(SeriesStore(store).steps)


def _consolidated_ok(store: Path) -> bool:
    try:
        with h5py.File(store, "r"):
            return True
    except OSError:
        return False


class _Heartbeat:
    """Refresh held locks from a background thread while tasks run (they may take hours)."""

    def __init__(self, locks: dict[str, SweepLock], every: float) -> None:
        self.locks, self.every = locks, every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(self.every):
            for lock in list(self.locks.values()):
                try:
                    lock.heartbeat()
                except (LockBusyError, OSError) as exc:
                    log.error("%s", exc)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        self.thread.join()


def run_config(config: SweepConfig, executor: Executor | None = None,
               publish: Publisher | None = None,
               detect: Callable[[Path, dict[str, Any]], int] | None = None,
               ) -> list[SeriesResult]:
    """Run one scheduled sweep of every series in ``config``.

    Args:
        config: The validated config.
        executor: Where tasks run (default: built from ``config.executor``).
        publish: Called per series with its newly stored steps (W&B); see :data:`Publisher`.
        detect: Detection over one store (default :func:`tracker.events.detect_stores`);
            returns the number of events.

    Returns:
        One result per series, in config order.
    """
    probe_set = config.probe_set()
    probes = probe_set.build()
    variants: dict[str, list[str]] = {}
    for probe in probes:
        variants.setdefault(probe.name, []).append(probe.key)
    results = {spec.name: SeriesResult(spec.name, spec.store) for spec in config.series}
    locks: dict[str, SweepLock] = {}
    plans: dict[str, SeriesPlan] = {}
    journals: dict[str, Journal] = {}
    started = time.time()
    own_executor = executor is None
    try:
        for spec in config.series:
            result = results[spec.name]
            lock = SweepLock(spec.store, config.stale_after)
            try:
                lock.acquire()
            except LockBusyError as exc:
                result.busy = str(exc)
                continue
            locks[spec.name] = lock
            if lock.recovered:
                result.notes.append(lock.recovered)
            remove_stale_temporaries(spec.store)
            plan = plan_series(spec, config, probes, repair=True)
            plans[spec.name] = plan
            journals[spec.name] = Journal.load(spec.store)
            result.error = plan.error
            result.incomplete = dict(plan.incomplete)
            result.done_before = len(plan.done)
            result.notes.extend(f"{c} (moved aside; computed again)" for c in plan.corrupt)
            for step, why in plan.broken.items():
                _record(StepOutcome(spec.name, step, error=why), result, journals[spec.name])
        run_id = f"{os.getpid()}-{started}"
        tasks = [StepTask(plan.spec, ckpt, probe_set, pending, config.executor.device,
                          config.executor.dtype, config.executor.batch_size, config.evict,
                          run_id, _fence(locks[name]))
                 for name, plan in plans.items() if not plan.error
                 for ckpt, pending in plan.tasks]
        if tasks and executor is None:
            executor = make_executor(config.executor)
        if tasks:
            assert executor is not None
            with _Heartbeat(locks, max(1.0, config.stale_after / 4)):
                for outcome in executor.run(tasks):
                    _record(outcome, results[outcome.series], journals[outcome.series])
        for name, plan in plans.items():
            if not plan.error:
                _finish_series(plan, config, results[name], journals[name], variants, publish,
                               detect)
    finally:
        if own_executor and executor is not None:
            executor.close()
        for name, lock in locks.items():
            result = results[name]
            result.seconds = time.time() - started
            if name in journals:
                verdict = "failed" if result.failed or result.error else "ok"
                journals[name].runs.append(RunRecord(
                    started, result.seconds, config.executor.kind, len(result.computed),
                    len(result.failed), len(result.incomplete), verdict))
                try:
                    journals[name].save(lock.store)
                except OSError as exc:
                    log.error("%s: cannot write the sweep journal (%s)", lock.store, exc)
            lock.release()
    return [results[spec.name] for spec in config.series]


def _fence(lock: SweepLock) -> tuple[str, int]:
    assert lock.owner is not None
    return lock.owner.host, lock.owner.pid


def _record(outcome: StepOutcome, result: SeriesResult, journal: Journal) -> None:
    if outcome.computed or outcome.ok:
        result.computed.append(outcome.step)
    result.evicted_bytes += outcome.evicted_bytes
    for probe in outcome.all_nan:
        result.all_nan.setdefault(probe, []).append(outcome.step)
    if outcome.evicted_bytes:
        journal.evicted.append(outcome.step)
    if outcome.ok:
        journal.clear_failure(outcome.step)
    else:
        result.failed[outcome.step] = outcome.message()
        journal.record_failure(outcome.step, outcome.message())
        for line in outcome.message().splitlines():
            log.error("%s", line)


def _finish_series(plan: SeriesPlan, config: SweepConfig, result: SeriesResult,
                   journal: Journal, variants: dict[str, list[str]], publish: Publisher | None,
                   detect: Callable[[Path, dict[str, Any]], int] | None) -> None:
    store = plan.spec.store
    assert plan.series is not None
    fresh = set(result.computed)
    try:
        pairs, rewritten = mark_repeats(store, plan.chosen)
        result.repeated = [(a, b) for a, b in pairs if b in fresh]
        if not list_shards(store):
            return
        if fresh or rewritten or _stale(store):
            consolidate(store, plan.series.describe() | {"probes": variants})
        if config.detect and (fresh or not _events_current(store)):
            run_detect = detect or _detect_store
            result.notes.append(f"{run_detect(store, config.detect_options)} events detected")
        if publish is not None:
            new = [read_shard(p) for p in list_shards(store)]
            new = [s for s in new if s.step > journal.wandb_last_step]
            if new:
                journal.wandb_last_step = publish(plan.spec, plan.series, store, new, journal)
                journal.save(store)  # at once: a kill now must not log these steps twice
                result.published = len(new)
    except TrackerError as exc:
        result.error = str(exc)


def _detect_store(store: Path, options: dict[str, Any]) -> int:
    from tracker.events import DetectOptions, detect_stores

    found, _ = detect_stores([str(store)], DetectOptions(**options))
    return sum(len(s.frame) for s in found)
