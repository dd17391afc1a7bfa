"""Executors agree value for value, and a worker that dies mid-task is retried.

The worker deaths are real: ``TRACKER_INJECT_FAULT`` makes the process computing one step
SIGKILL itself once, before it writes the shard.
"""

import os

import pytest

from tests.support.builders import build_pythia_cache
from tests.support.sweeps import ROOT, assert_same_values, hub_config, store_values
from tracker.runner.config import load_config
from tracker.runner.executors import ProcessExecutor, make_executor
from tracker.runner.scheduled import run_config
from tracker.runner.tasks import FAULT_ENV

STEPS = [0, 1, 2, 4, 8]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    # Step 8 repeats step 4's weights: executors must agree on the repeated-weights flags too.
    return build_pythia_cache(tmp_path_factory.mktemp("cache"), STEPS, repeat_steps=(8,))


@pytest.fixture(scope="module")
def reference(cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("sequential")
    result, = run_config(load_config(hub_config(root / "s.toml", cache, root / "stores")))
    assert result.computed == STEPS and result.repeated == [(4, 8)]
    return store_values(root / "stores" / "pythia-tiny.h5")


def _sweep(tmp_path, cache, executor, workers=2):
    config = load_config(hub_config(tmp_path / "s.toml", cache, tmp_path / "stores",
                                    executor=executor, workers=workers))
    result, = run_config(config)
    return result, store_values(tmp_path / "stores" / "pythia-tiny.h5")


def test_process_pool_survives_a_killed_worker_and_matches_sequential(tmp_path, cache, reference,
                                                                      monkeypatch):
    marker = tmp_path / "killed-once"
    monkeypatch.setenv(FAULT_ENV, f"kill:2:{marker}")
    result, values = _sweep(tmp_path, cache, "processes", workers=1)
    assert marker.exists(), "the fault was not injected"
    assert sorted(result.computed) == STEPS and result.failed == {}
    assert result.repeated == [(4, 8)]
    assert_same_values(values, reference)


def test_a_worker_that_keeps_dying_is_given_up_on(tmp_path, cache, monkeypatch):
    from tracker.runner.spec import ProbeSet, SeriesSpec
    from tracker.runner.tasks import StepTask
    from tracker.sources import Checkpoint

    monkeypatch.setenv(FAULT_ENV, "kill:0:always")
    spec = SeriesSpec("t", "hub", "EleutherAI/pythia-tiny", tmp_path / "s.h5",
                      cache_dir=str(cache))
    probes = ProbeSet(("induction",))
    task = StepTask(spec, Checkpoint(0, "step0", 0), probes,
                    tuple((p.name, p.key) for p in probes.build()))
    outcomes = list(ProcessExecutor(workers=1, retries=0).run([task]))
    assert [o.error for o in outcomes] == ["t step 0: worker died 1 times; giving up"]


def test_executor_choice(tmp_path, cache):
    config = load_config(hub_config(tmp_path / "s.toml", cache, tmp_path / "st"))
    assert make_executor(config.executor).name == "sequential"
    pool = make_executor(load_config(hub_config(tmp_path / "p.toml", cache, tmp_path / "st",
                                                executor="processes")).executor)
    assert (pool.name, pool.workers) == ("processes", 2)


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    ray = pytest.importorskip("ray")
    marker = tmp_path_factory.mktemp("ray-fault") / "killed-once"
    # Workers inherit this environment: the worker computing step 2 dies once, mid-task.
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           FAULT_ENV: f"kill:2:{marker}"}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})
    yield marker
    ray.shutdown()


@pytest.mark.ray
def test_ray_retries_a_killed_worker_and_matches_sequential(tmp_path, cache, reference,
                                                            local_ray):
    result, values = _sweep(tmp_path, cache, "ray")
    assert local_ray.exists(), "the Ray worker was not killed"
    assert sorted(result.computed) == STEPS and result.failed == {}
    assert result.repeated == [(4, 8)]
    assert_same_values(values, reference)


def test_cpu_pool_workers_share_the_cores_without_oversubscribing(monkeypatch):
    import torch

    from tracker import cores
    from tracker.runner import executors

    monkeypatch.setattr(executors, "gpu_count", lambda: 0)
    monkeypatch.setattr(executors, "usable_cores", lambda: 8)
    monkeypatch.setattr(cores, "usable_cores", lambda: 8)
    assert (ProcessExecutor().workers, ProcessExecutor().threads) == (8, 1)
    assert ProcessExecutor(workers=2).threads == 4
    monkeypatch.setattr(executors, "gpu_count", lambda: 2)
    assert ProcessExecutor().threads is None  # GPU workers: torch's own default
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        executors.set_worker_threads(1)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's setting is kept
        executors.set_worker_threads(before + 1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_one_pool_worker_per_gpu_each_pinned_to_its_own(monkeypatch):
    import queue

    from tracker.runner import executors

    monkeypatch.setattr(executors, "gpu_count", lambda: 3)
    assert ProcessExecutor().workers == 3
    assert ProcessExecutor(workers=5).workers == 5
    gpus = queue.Queue()
    for i in (0, 1, 2):
        gpus.put(i)
    seen = []
    for _ in range(3):
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        executors.pin_gpu(gpus)
        seen.append(os.environ["CUDA_VISIBLE_DEVICES"])
    assert seen == ["0", "1", "2"]


def test_sequential_executor_fetches_the_next_task_of_its_series_ahead(tmp_path, cache,
                                                                     monkeypatch):
    from tracker.runner import executors
    from tracker.runner.spec import ProbeSet, SeriesSpec
    from tracker.runner.tasks import StepOutcome, StepTask
    from tracker.sources import Checkpoint, open_series
    from tracker.sources.prefetch import FilePrefetcher

    series = open_series("EleutherAI/pythia-tiny", cache_dir=cache)
    step_of = {tuple(p.resolve() for p in series.weight_files(c)): c.step
               for c in series.checkpoints()}
    events = []
    submit, submit_download = FilePrefetcher.submit, FilePrefetcher.submit_download

    def spy_submit(self, files):
        events.append(("read", step_of[tuple(p.resolve() for p in files)]))
        return submit(self, files)

    def spy_submit_download(self, download):
        events.append(("fetch", download.args[0].step))
        return submit_download(self, download)

    def fake_compute(task):
        events.append(("compute", task.series.name, task.checkpoint.step))
        return StepOutcome(task.series.name, task.checkpoint.step)

    monkeypatch.setattr(FilePrefetcher, "submit", spy_submit)
    monkeypatch.setattr(FilePrefetcher, "submit_download", spy_submit_download)
    monkeypatch.setattr(executors, "compute_step", fake_compute)
    probes = ProbeSet(("induction",))
    pending = tuple((p.name, p.key) for p in probes.build())
    a, b = (SeriesSpec(name, "hub", "EleutherAI/pythia-tiny", tmp_path / f"{name}.h5",
                       cache_dir=str(cache)) for name in "ab")
    tasks = [StepTask(a, Checkpoint(0, "step0", 0), probes, pending),
             StepTask(a, Checkpoint(1, "step1", 0), probes, pending),
             StepTask(b, Checkpoint(2, "step2", 0), probes, pending)]
    outcomes = list(executors.SequentialExecutor().run(tasks))
    assert [o.step for o in outcomes] == [0, 1, 2]
    # Series b's checkpoint is read only once its own task comes: fetching it ahead would
    # mean opening b in the middle of a's tasks.
    assert events == [("read", 0), ("fetch", 1), ("compute", "a", 0), ("read", 1),
                      ("compute", "a", 1), ("read", 2), ("compute", "b", 2)]
