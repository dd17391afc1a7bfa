"""One unit of sweep work: run the pending probes of one (series, step) and write its shard.

A :class:`StepTask` is plain, picklable data (the series spec, the checkpoint, the probe set,
where to run), so the same :func:`compute_step` runs in the calling process, in a pool worker
or as a Ray task on another machine. Each task writes only its own step's shard (atomically),
so tasks never contend for a file and a task that dies leaves its step pending, never torn;
the journal, consolidation and W&B stay with the one process that holds the sweep lock.
Whether a step repeats the previous step's weights needs both steps, so the driver settles it
after the tasks (:func:`tracker.runner.scheduled.mark_repeats`).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracker.errors import StoreError, TrackerError
from tracker.models import get_adapter
from tracker.probes import InputCache
from tracker.runner.heap import release_freed_memory
from tracker.runner.spec import ProbeSet, SeriesSpec
from tracker.runner.sweep import run_probes
from tracker.sources import Checkpoint, CheckpointSeries
from tracker.sources.integrity import same_weights
from tracker.sources.loading import parse_dtype
from tracker.sources.prefetch import FilePrefetcher
from tracker.store import StepShard, read_shard, shard_path, write_shard
from tracker.store.lock import read_owner

log = logging.getLogger(__name__)

#: Fault injection for the fault-tolerance tests: ``kill:STEP:MARKER`` makes the process
#: computing STEP kill itself with SIGKILL before writing the shard, once (the MARKER file
#: records that it did), as a crashed or preempted worker would; ``kill:STEP:always`` every
#: time.
FAULT_ENV = "TRACKER_INJECT_FAULT"


@dataclass(frozen=True)
class StepTask:
    """Compute ``pending`` (probe name, variant key) pairs at one checkpoint of one series."""

    series: SeriesSpec
    checkpoint: Checkpoint
    probes: ProbeSet
    pending: tuple[tuple[str, str], ...]
    device: str = "cpu"
    dtype: str = "float32"
    batch_size: int = 64
    evict: bool = False
    #: Identifies the sweep run: a worker reopens the series (relists it) once per run.
    run_id: str = ""
    #: (host, pid) holding the series' sweep lock for this run: a task outliving its sweep
    #: (a Ray worker on another node, say) writes nothing once another sweep took the lock.
    fence: tuple[str, int] = ("", 0)


@dataclass
class StepOutcome:
    """What a task did.

    Attributes:
        series: The series' name.
        step: The checkpoint's step.
        computed: Probe names stored by this task.
        failures: Probe name -> one-line error, for probes that failed (others were kept).
        error: Why the whole step failed ('' if it did not): load failure, bad store...
        weights_hash: Hash of the weights loaded ('' if none were).
        seconds: Wall time.
        evicted_bytes: Bytes freed from the download cache.
        worker: ``host:pid`` that ran it.
        all_nan: Probe name -> its metrics that came back entirely NaN.
    """

    series: str
    step: int
    computed: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    error: str = ""
    weights_hash: str = ""
    seconds: float = 0.0
    evicted_bytes: int = 0
    worker: str = ""
    all_nan: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every pending probe was stored."""
        return not self.error and not self.failures

    def message(self) -> str:
        """All of the step's errors, one line each."""
        return "\n".join([self.error] * bool(self.error) + list(self.failures.values()))


_SERIES: dict[tuple[SeriesSpec, str], CheckpointSeries] = {}
_PROBES: dict[ProbeSet, list[Any]] = {}
#: Probe inputs of the series in ``_SERIES``, built at its first checkpoint and reused.
_INPUTS = InputCache()


def _series(spec: SeriesSpec, run_id: str) -> CheckpointSeries:
    # One series object per process and run: it keeps the tokenizer it loaded the first time,
    # and the next run (a long-lived Ray worker may serve many) lists the series afresh.
    key = (spec, run_id)
    if key not in _SERIES:
        _SERIES.clear()
        _INPUTS.clear()
        _SERIES[key] = spec.open()
    return _SERIES[key]


def _probes(probe_set: ProbeSet) -> list[Any]:
    if probe_set not in _PROBES:
        _PROBES[probe_set] = probe_set.build()
    return _PROBES[probe_set]


def read_ahead(prefetcher: FilePrefetcher, upcoming: Sequence[StepTask]) -> None:
    """Read the task about to run where its files are local; download and read the next.

    Only a next task of the same series and run is fetched: opening another series here
    would drop this process's open one (see ``_series``).
    """
    if not upcoming:
        return
    first, *following = upcoming
    series = _series(first.series, first.run_id)
    prefetcher.submit(series.weight_files(first.checkpoint))
    for task in following:
        if (task.series, task.run_id) == (first.series, first.run_id):
            prefetcher.submit_download(functools.partial(series.download, task.checkpoint))


def resolve_device(device: str) -> str:
    """``auto`` is ``cuda`` where a GPU is visible, else ``cpu``."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def compute_step(task: StepTask) -> StepOutcome:
    """Load one checkpoint, run its pending probes, write its shard; never raise a user error.

    Errors become the outcome's ``error`` (the step) or ``failures`` (one probe): a probe that
    fails does not cost the other probes' results at that step.
    """
    started = time.perf_counter()
    ckpt = task.checkpoint
    out = StepOutcome(task.series.name, ckpt.step, worker=f"{socket.gethostname()}:{os.getpid()}")
    try:
        _compute(task, out)
    except TrackerError as exc:
        out.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one line per step, the sweep goes on
        out.error = f"{task.series.name} step {ckpt.step}: {type(exc).__name__}: {exc}"
        log.debug("step %d failed", ckpt.step, exc_info=True)
    out.seconds = time.perf_counter() - started
    return out


def _compute(task: StepTask, out: StepOutcome) -> None:
    ckpt = task.checkpoint
    series = _series(task.series, task.run_id)
    store = task.series.store
    wanted = set(task.pending)
    probes = [p for p in _probes(task.probes) if (p.name, p.key) in wanted]
    path = shard_path(store, ckpt.step)
    shard = read_shard(path) if path.exists() else None
    if shard is not None:
        probes = [p for p in probes if not shard.has(p.name, p.key)]
    if not probes:
        return
    what = f"{series.series_id}@{ckpt.revision}"
    loaded = series.load(ckpt, device=resolve_device(task.device),
                         dtype=parse_dtype(task.dtype))
    out.weights_hash = loaded.weights_hash
    get_adapter(loaded.model, what=what)
    if shard is not None and not same_weights(shard.checkpoint_hash, loaded.weights_hash,
                                              loaded.model):
        raise StoreError(f"{path}: stored results are for other weights than {what} now holds")
    results = run_probes(probes, loaded.model, loaded.tokenizer, ckpt.step,
                         task.batch_size, failures=out.failures, inputs=_INPUTS)[0]
    del loaded
    release_freed_memory()  # a worker computes step after step: see runner/heap.py
    _inject_fault(ckpt.step)
    _check_fence(task)
    if results:
        if shard is None:
            shard = StepShard(series.series_id, series.tokens_per_step, ckpt.step, ckpt.tokens,
                              ckpt.revision, out.weights_hash)
        shard.results.update(results)
        write_shard(store, shard)
        for (name, _), result in sorted(results.items()):
            nan = [m for m, v in sorted(result.values.items()) if v.size and np.isnan(v).all()]
            if nan:
                out.all_nan[name] = nan
        out.computed = sorted({name for name, _ in results})
    if task.evict and not out.failures:
        out.evicted_bytes = series.evict(ckpt)


def _check_fence(task: StepTask) -> None:
    if not task.fence[1]:
        return
    owner = read_owner(task.series.store)
    if owner is None or (owner.host, owner.pid) != task.fence:
        raise StoreError(f"{task.series.store}: the sweep that started step "
                         f"{task.checkpoint.step} no longer holds the lock; result dropped")


def _inject_fault(step: int) -> None:
    spec = os.environ.get(FAULT_ENV, "")
    if not spec.startswith("kill:"):
        return
    _, at, marker = spec.split(":", 2)
    if int(at) != step:
        return
    if marker == "always":
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
