"""Run probes over a checkpoint series and write one shard per step, resumably.

A (series, step, probe, probe version, config hash) already stored is never recomputed; a
step whose probes are all stored is not even loaded. Each checkpoint is loaded once for all
its pending probes, and the probes share forward passes through one ProbeContext.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tracker.errors import StoreError, TrackerError
from tracker.models import get_adapter
from tracker.probes import InputCache, Probe, ProbeContext
from tracker.runner.heap import release_freed_memory
from tracker.sources import Checkpoint, CheckpointSeries, select_steps
from tracker.sources.integrity import same_weights
from tracker.sources.prefetch import FilePrefetcher
from tracker.store import (
    ProbeResult,
    StepShard,
    consolidate,
    read_shard,
    shard_path,
    write_shard,
)
from tracker.store.lock import SweepLock
from tracker.store.shards import remove_stale_temporaries

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """What a sweep did.

    Attributes:
        computed: (step, probe) pairs computed in this run, in order.
        skipped_steps: Steps whose probes were all stored already (not loaded).
        loads: Number of checkpoints loaded.
        repeated_weights: (earlier step, step) pairs with identical weights.
        seconds: Wall time.
        store_path: The consolidated store.
    """

    computed: list[tuple[int, str]] = field(default_factory=list)
    skipped_steps: list[int] = field(default_factory=list)
    loads: int = 0
    repeated_weights: list[tuple[int, int]] = field(default_factory=list)
    seconds: float = 0.0
    store_path: Path | None = None


#: Called after each step's shard is written: (checkpoint, shard).
StepCallback = Callable[[Checkpoint, StepShard], None]


def _existing_shard(
    store_path: Path, ckpt: Checkpoint, series: CheckpointSeries
) -> StepShard | None:
    path = shard_path(store_path, ckpt.step)
    if not path.exists():
        return None
    shard = read_shard(path)
    if shard.series_id != series.series_id:
        raise StoreError(
            f"{path}: holds series {shard.series_id!r}, not {series.series_id!r}; "
            "use another --store"
        )
    return shard


def _read_ahead(
    prefetcher: FilePrefetcher, series: CheckpointSeries, store: Path,
    upcoming: Sequence[Checkpoint],
) -> None:
    """Read the checkpoint about to load, and download and read the next one to compute.

    The one about to load is only read where its files are local (its load downloads it
    otherwise). Only a next step with no shard yet is fetched: one with a shard may be
    complete and skipped, and fetching it would only cost disk and network time.
    """
    current, *following = upcoming
    prefetcher.submit(series.weight_files(current))
    for ckpt in following:
        if not shard_path(store, ckpt.step).exists():
            prefetcher.submit_download(functools.partial(series.download, ckpt))


def run_probes(
    probes: Sequence[Probe], model: Any, tokenizer: Any, step: int,
    batch_size: int = 64, extras: dict[str, Any] | None = None,
    failures: dict[str, str] | None = None, inputs: InputCache | None = None,
) -> tuple[dict[tuple[str, str], ProbeResult], ProbeContext]:
    """Run probes on one loaded model through one shared context.

    Args:
        probes: Probes to run.
        model: Loaded HF model.
        tokenizer: Its tokenizer.
        step: Training step (probes may use it).
        batch_size: Largest forward batch.
        extras: Objects placed in ``ctx.scratch`` (e.g. a text dataset for the ICL probe).
        failures: Where given, a probe that fails is recorded here (probe name -> one-line
            error naming the step and cause) and the others still run; otherwise the first
            failure raises.
        inputs: Where given, probe inputs built at an earlier checkpoint of the same series
            (same tokenizer object, model configuration and sources) are taken from it, and
            the ones built here are left in it.

    Returns:
        Results by (probe name, variant key), so two configs of one probe both come back,
        and the context (for its forward count).

    Raises:
        TrackerError: Naming the step and probe, if a probe fails or returns bad metrics
            (only when ``failures`` is None).
    """
    ctx = ProbeContext(model=model, tokenizer=tokenizer, step=step, batch_size=batch_size)
    ctx.scratch.update(extras or {})
    if inputs is not None:
        ctx.share_inputs(inputs)
    broken: dict[int, TrackerError] = {}
    # Owners are positions in the list: two variants of one probe are two owners.
    for i, probe in enumerate(probes):
        ctx.active_probe = f"{i}:{probe.name}"
        try:
            probe.declare(ctx)
        except Exception as exc:  # noqa: BLE001 - e.g. a tokenizer raising on the prompts
            broken[i] = _probe_error(step, probe, exc)
    results: dict[tuple[str, str], ProbeResult] = {}
    for i, probe in enumerate(probes):
        ctx.active_probe = f"{i}:{probe.name}"
        try:
            if i in broken:
                raise broken[i]
            results[(probe.name, probe.key)] = _run_one(probe, ctx, step)
        except Exception as exc:  # noqa: BLE001 - reported with the step and probe named
            error = _probe_error(step, probe, exc)
            if failures is None:
                raise error from exc
            failures[probe.name] = str(error)
            log.error("%s", error)
        finally:
            ctx.release(ctx.active_probe)
    return results, ctx


def _probe_error(step: int, probe: Probe, exc: BaseException) -> TrackerError:
    if isinstance(exc, TrackerError):
        return exc
    return TrackerError(f"step {step}: probe {probe.name!r} failed: {exc!r}")


def _run_one(probe: Probe, ctx: ProbeContext, step: int) -> ProbeResult:
    start = time.perf_counter()
    declared = {metric.name: metric for metric in probe.metrics(ctx)}
    values = probe.run(ctx)
    result = ProbeResult(probe.name, probe.version, probe.config.to_json(), probe.config_hash,
                         seconds=time.perf_counter() - start)
    for name, value in values.items():
        if name not in declared:
            raise TrackerError(f"step {step}: probe {probe.name!r} returned undeclared "
                               f"metric {name!r}")
        result.add(declared[name], value)
    result.static = probe.static(ctx)
    return result


def sweep(
    series: CheckpointSeries,
    store_path: str | os.PathLike[str],
    probes: Sequence[Probe],
    steps: str | None = None,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    batch_size: int = 64,
    progress: bool = True,
    on_step: StepCallback | None = None,
    extras: dict[str, Any] | None = None,
    prefetch: bool = True,
) -> SweepReport:
    """Run ``probes`` at the selected checkpoints of ``series`` and consolidate the store.

    Args:
        series: The checkpoint series.
        store_path: Path of the series store (shards go in ``STORE.shards/``).
        probes: Probe instances (their configs fix the result keys).
        steps: Step selection spec (see ``select_steps``).
        device: Torch device for models.
        dtype: Parameter dtype for models.
        batch_size: Largest forward batch.
        progress: Show a progress bar.
        on_step: Called after each step's shard is stored, in step order.
        extras: Objects for ``ProbeContext.scratch``.
        prefetch: Read each checkpoint's weights files into the OS page cache ahead of its
            load, the next one while this one is computed (:mod:`tracker.sources.prefetch`).

    Returns:
        A report of what was computed and skipped.

    Raises:
        LockBusyError: If another sweep is running on the store.
    """
    # One sweep at a time per store, whichever form started it (a config run or this one).
    with SweepLock(store_path):
        with FilePrefetcher() as prefetcher:
            return _sweep(series, store_path, probes, steps, device, dtype, batch_size,
                          progress, on_step, extras, prefetcher if prefetch else None)


def _sweep(
    series: CheckpointSeries,
    store_path: str | os.PathLike[str],
    probes: Sequence[Probe],
    steps: str | None = None,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    batch_size: int = 64,
    progress: bool = True,
    on_step: StepCallback | None = None,
    extras: dict[str, Any] | None = None,
    prefetcher: FilePrefetcher | None = None,
) -> SweepReport:
    """Body of :func:`sweep`, run under the store's sweep lock."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    store = Path(store_path)
    report = SweepReport(store_path=store)
    remove_stale_temporaries(store)
    available = series.checkpoints()
    by_step = {c.step: c for c in available}
    chosen = [by_step[s] for s in select_steps(list(by_step), steps)]
    previous_hash, previous_step = "", -1
    inputs = InputCache()  # the probes' inputs, built at the first checkpoint loaded
    bar = tqdm(chosen, desc=series.series_id, unit="ckpt", disable=not progress)
    for index, ckpt in enumerate(bar):
        shard = _existing_shard(store, ckpt, series)
        pending = [p for p in probes if shard is None or not shard.has(p.name, p.key)]
        if shard is not None and not pending:
            report.skipped_steps.append(ckpt.step)
            previous_hash, previous_step = shard.checkpoint_hash, ckpt.step
            if on_step is not None:
                on_step(ckpt, shard)
            continue
        bar.set_postfix_str(f"step {ckpt.step}: {', '.join(p.name for p in pending)}")
        if prefetcher is not None:
            _read_ahead(prefetcher, series, store, chosen[index : index + 2])
        loaded = series.load(ckpt, device=device, dtype=dtype)
        report.loads += 1
        get_adapter(loaded.model, what=f"{series.series_id}@{ckpt.revision}")
        if shard is not None and not same_weights(shard.checkpoint_hash, loaded.weights_hash,
                                                  loaded.model):
            raise StoreError(f"{shard_path(store, ckpt.step)}: stored results are for other "
                             f"weights than {series.series_id}@{ckpt.revision} now holds")
        repeats = previous_hash != "" and loaded.weights_hash == previous_hash
        if repeats:
            log.warning("%s: step %d has the same weights as the previous checkpoint",
                        series.series_id, ckpt.step)
            report.repeated_weights.append((previous_step, ckpt.step))
        failures: dict[str, str] = {}
        # The context is dropped at once: it holds the model, which must be freed before
        # the next checkpoint loads (two models alive at a time was the sweep's peak).
        results = run_probes(pending, loaded.model, loaded.tokenizer, ckpt.step, batch_size,
                             extras, failures, inputs)[0]
        if shard is None:
            shard = StepShard(series.series_id, series.tokens_per_step, ckpt.step, ckpt.tokens,
                              ckpt.revision, loaded.weights_hash)
        # The store records what this sweep found; consolidation does not recompute it.
        shard.repeats_step = previous_step if repeats else -1
        shard.results.update(results)
        if results:  # the probes that worked are kept even when another one failed
            write_shard(store, shard)
        if failures:
            raise TrackerError(next(iter(failures.values())))
        report.computed.extend((ckpt.step, p.name) for p in pending)
        previous_hash, previous_step = loaded.weights_hash, ckpt.step
        del loaded
        release_freed_memory()
        if on_step is not None:
            on_step(ckpt, shard)
    variants: dict[str, list[str]] = {}
    for p in probes:
        variants.setdefault(p.name, []).append(p.key)
    provenance = series.describe() | {"probes": variants}
    if chosen:
        consolidate(store, provenance)
    report.seconds = time.perf_counter() - started
    return report

