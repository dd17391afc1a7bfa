"""Where step tasks run: in this process, in a local process pool, or on a Ray cluster.

Every executor runs :func:`tracker.runner.tasks.compute_step` on :class:`StepTask` data and
yields a :class:`StepOutcome` per task as each finishes (in any order); each task writes its
own shard, and the caller (the one holder of the sweep lock) does everything else. A worker
that dies (killed, out of memory, preempted) is retried up to ``retries`` times; a task that
fails for a reason of its own (a broken checkpoint, a probe raising) is not, since it would
fail again, and comes back as an outcome with its error.

- ``sequential``: one task after another, here.
- ``processes``: a pool of spawned processes; with GPUs, one worker per GPU, each pinned to
  its GPU through ``CUDA_VISIBLE_DEVICES``; without, ``workers`` CPU workers.
- ``ray``: one Ray task per (series, step) (``ray`` is an optional extra, imported only here).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

from tracker.cores import threads_per_worker, usable_cores
from tracker.errors import TrackerError
from tracker.runner.spec import ExecutorConfig
from tracker.runner.tasks import StepOutcome, StepTask, compute_step, read_ahead
from tracker.sources.prefetch import FilePrefetcher

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs step tasks and yields their outcomes as they finish."""

    name: str

    def run(self, tasks: Sequence[StepTask]) -> Iterator[StepOutcome]:
        """Run every task; yield one outcome per task."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


class SequentialExecutor:
    """Run tasks one after another in this process (the default)."""

    name = "sequential"

    def run(self, tasks: Sequence[StepTask]) -> Iterator[StepOutcome]:
        """Run tasks in order, each next checkpoint's files read ahead while one computes."""
        with FilePrefetcher() as prefetcher:
            for index, task in enumerate(tasks):
                read_ahead(prefetcher, tasks[index : index + 2])
                yield compute_step(task)

    def close(self) -> None:
        """Nothing to release."""


def _died(task: StepTask, why: str) -> StepOutcome:
    return StepOutcome(task.series.name, task.checkpoint.step,
                       error=f"{task.series.name} step {task.checkpoint.step}: {why}")


def gpu_count() -> int:
    """Return the number of CUDA devices visible (0 without torch CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _init_worker(gpus: Any, threads: int | None) -> None:
    """Pool worker start-up: die with the parent, take a GPU of its own if there are any.

    A CPU worker takes its share of the cores (``threads``).
    """
    try:  # Linux: a SIGKILLed sweep must not leave workers writing shards behind it.
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    pin_gpu(gpus)
    set_worker_threads(threads)


def set_worker_threads(threads: int | None) -> None:
    """Use ``threads`` torch CPU threads (None: leave them); ``OMP_NUM_THREADS`` set wins."""
    if threads is not None and "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(threads)


def pin_gpu(gpus: Any) -> None:
    """Take the next GPU id from the pool's queue and see only it (None: no GPUs)."""
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get())


class ProcessExecutor:
    """A local pool of spawned worker processes.

    Without GPUs each worker runs ``cores // workers`` torch threads (see
    :func:`tracker.cores.threads_per_worker`; ``OMP_NUM_THREADS``, where set, wins).

    Args:
        workers: Worker count (default: one per GPU, else one per usable core).
        retries: Times a task is resubmitted after its worker died.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, retries: int = 2) -> None:
        self.gpus = gpu_count()
        self.workers = workers or self.gpus or usable_cores()
        self.threads = None if self.gpus else threads_per_worker(self.workers)
        self.retries = retries
        self._pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        import multiprocessing

        # Spawned, not forked: a fork of a process holding torch's thread pools can hang.
        ctx = multiprocessing.get_context("spawn")
        queue = None
        if self.gpus:
            queue = ctx.Queue()
            for i in range(self.workers):
                queue.put(i % self.gpus)
        return ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(queue, self.threads))

    def run(self, tasks: Sequence[StepTask]) -> Iterator[StepOutcome]:
        """Run tasks on the pool; restart it and resubmit after a worker dies."""
        attempts = dict.fromkeys(range(len(tasks)), 0)
        left = set(range(len(tasks)))
        while left:
            self._pool = self._start()
            futures: dict[Future[StepOutcome], int] = {
                self._pool.submit(compute_step, tasks[i]): i for i in sorted(left)}
            broken = False
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when="FIRST_COMPLETED")
                for future in done:
                    i = futures[future]
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    left.discard(i)
                    yield outcome
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            if broken:
                for i in sorted(left):
                    attempts[i] += 1
                    if attempts[i] > self.retries:
                        left.discard(i)
                        yield _died(tasks[i], f"worker died {attempts[i]} times; giving up")
                log.warning("a worker died; resubmitting %d task(s)", len(left))

    def close(self) -> None:
        """Shut the pool down."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """One Ray task per (series, step), retried by Ray when its worker dies.

    Args:
        address: Cluster address (``auto``: the cluster this node belongs to); None starts a
            local instance with ``workers`` CPUs.
        workers: CPUs of a local instance.
        retries: Ray's ``max_retries`` for a task whose worker died.
        cpus_per_task: CPUs each task reserves.
        gpus_per_task: GPUs each task reserves (default: 1 where the cluster has GPUs).
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 retries: int = 2, cpus_per_task: float = 1.0,
                 gpus_per_task: float | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise TrackerError("executor.kind = 'ray' needs Ray, which is not installed: "
                               "pip install 'tracker[ray]'") from exc
        self.ray = ray
        self.started_here = False
        if not ray.is_initialized():
            # Workers of an instance started here import tracker from where this process does.
            root = str(Path(__file__).resolve().parents[2])
            env = {"PYTHONPATH": os.pathsep.join(
                p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "runtime_env": {"env_vars": env}}
            if address is None:
                kwargs["num_cpus"] = workers or usable_cores()
            ray.init(address=address, **kwargs)
            self.started_here = True
        if gpus_per_task is None:
            gpus_per_task = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
        self.remote = ray.remote(max_retries=retries, retry_exceptions=False,
                                 num_cpus=cpus_per_task, num_gpus=gpus_per_task)(compute_step)

    def run(self, tasks: Sequence[StepTask]) -> Iterator[StepOutcome]:
        """Submit every task, yield outcomes as they complete."""
        refs = {self.remote.remote(task): task for task in tasks}
        pending = list(refs)
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    yield self.ray.get(ref)
                except self.ray.exceptions.RayError as exc:
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    yield _died(refs[ref], f"Ray task failed after retries: "
                                           f"{type(exc).__name__}: {first}")

    def close(self) -> None:
        """Shut down a Ray instance this executor started."""
        if self.started_here:
            self.ray.shutdown()


def make_executor(config: ExecutorConfig) -> Executor:
    """Build the executor a config names."""
    if config.kind == "processes":
        return ProcessExecutor(config.workers, config.retries)
    if config.kind == "ray":
        return RayExecutor(config.address, config.workers, config.retries,
                           config.cpus_per_task, config.gpus_per_task)
    return SequentialExecutor()
