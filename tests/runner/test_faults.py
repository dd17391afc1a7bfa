"""Fault tolerance, proven: SIGKILLed sweeps, full disks, corrupt files, then a rerun.

Every kill trial starts ``tracker sweep CONFIG`` as a real process, SIGKILLs it at a random
moment (after a random number of shards, plus a random delay, so kills land in loading,
probing, shard writes, consolidation, detection and journal writes alike), runs the sweep
again and checks: the store validates, every step is present exactly once, the values equal
an uninterrupted run's, nothing already stored was computed again, and no lock or temporary
file is left. The short form (two trials, run by plain ``pytest``) is the unmarked tests;
``pytest -m faults`` (or ``TRACKER_FAULTS=full``) runs all 20 trials across the executors.
Set ``TRACKER_FAULTS_LOG=FILE`` to collect one JSON line per trial.
"""

import dataclasses
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import time

import pytest

from tests.support.builders import PYTHIA_REPO, build_pythia_cache
from tests.support.sweeps import (
    ROOT,
    assert_same_values,
    cli_env,
    hub_config,
    store_values,
    tracker_cmd,
)
from tracker.runner.config import load_config
from tracker.runner.scheduled import run_config
from tracker.runner.spec import ExecutorConfig
from tracker.runner.status import config_status
from tracker.sources.hf_cache import snapshot_folder
from tracker.store import Journal, list_shards, read_shard
from tracker.store.lock import lock_path
from tracker.store.validate import validate_file

STEPS = [0, 1, 2, 4, 8, 16, 32, 64]
#: Heavier than the scheduled-sweep tests' probe, so that a step takes long enough to be
#: killed in the middle of.
SLOW_INDUCTION = {"n_seqs": 24, "seq_len": 24, "n_bootstrap": 50}
SHORT = {("sequential", 0), ("processes", 0)}
TRIALS = ([("sequential", i) for i in range(12)] + [("processes", i) for i in range(6)]
          + [("ray", i) for i in range(4)])


def _trial_param(kind, i):
    marks = [] if (kind, i) in SHORT else [pytest.mark.faults]
    if kind == "ray":
        marks.append(pytest.mark.ray)
    return pytest.param(kind, i, marks=marks, id=f"{kind}-{i}")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return build_pythia_cache(tmp_path_factory.mktemp("cache"), STEPS, repeat_steps=(16,))


def _config(root, cache, executor="sequential"):
    return hub_config(root / "sweep.toml", cache, root / "stores", executor=executor,
                      detect=True, **{"probes.config.induction": SLOW_INDUCTION})


@pytest.fixture(scope="module")
def reference(cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    result, = run_config(load_config(_config(root, cache)))
    assert result.computed == STEPS and result.failed == {}
    return store_values(root / "stores" / "pythia-tiny.h5")


def _check_store(store, reference):
    assert validate_file(store) == []
    values = store_values(store)
    steps = values["checkpoints/step"].tolist()
    assert steps == STEPS and len(set(steps)) == len(steps)
    assert_same_values(values, reference)
    assert [read_shard(p).step for p in list_shards(store)] == STEPS
    assert not [p for p in store.parent.rglob("*") if p.name.endswith(".tmp")]
    assert not lock_path(store).exists()


def _session(sid):
    """PIDs of the processes in session ``sid`` (all started by the sweep under test)."""
    pids = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = open(stat).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.split("/")[2]))
    return pids


def _kill_session(sid):
    for pid in _session(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_session_gone(sid, seconds=20.0):
    deadline = time.time() + seconds
    while _session(sid):
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("kind, trial", [_trial_param(k, i) for k, i in TRIALS])
def test_sigkill_at_a_random_moment_then_rerun(tmp_path, cache, reference, kind, trial):
    if kind == "ray":
        pytest.importorskip("ray")
    rng = random.Random(f"{kind}-{trial}")
    config = _config(tmp_path, cache, kind)
    store = tmp_path / "stores" / "pythia-tiny.h5"
    wait_for = rng.randint(0, len(STEPS))  # shards to wait for before the kill
    delay = rng.uniform(0.0, 0.5 if wait_for else 6.0)
    proc = subprocess.Popen(tracker_cmd("sweep", str(config)), env=cli_env(), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 240
    while (len(list_shards(store)) < wait_for and proc.poll() is None
           and time.time() < deadline):
        time.sleep(0.01)
    time.sleep(delay)
    killed = proc.poll() is None
    proc.kill()
    proc.wait()
    if kind == "ray":  # the node dies: Ray's own processes with it
        _kill_session(proc.pid)
    # Pool workers die with the sweep (PR_SET_PDEATHSIG); nothing of the session may linger.
    assert _wait_session_gone(proc.pid), "processes of the killed sweep outlived it"
    if not killed:
        assert proc.returncode == 0, proc.stderr.read().decode()
    proc.stderr.close()
    done = {read_shard(p).step for p in list_shards(store)}

    # The rerun is sequential whatever the killed run used: what it must cope with is what the
    # killed run left behind, and starting a pool or a local Ray again would only add time.
    again = dataclasses.replace(load_config(config), executor=ExecutorConfig())
    result, = run_config(again)
    assert result.failed == {} and result.error == "" and result.busy == ""
    assert not set(result.computed) & done, "stored work was redone"
    assert len(result.computed) + result.done_before == len(STEPS)
    _check_store(store, reference)
    if os.environ.get("TRACKER_FAULTS_LOG"):
        with open(os.environ["TRACKER_FAULTS_LOG"], "a") as fh:
            fh.write(json.dumps({"executor": kind, "trial": trial, "killed": killed,
                                 "shards_at_kill": len(done), "waited_for": wait_for,
                                 "recovered_lock": any("stale lock" in n for n in result.notes),
                                 "recomputed": len(result.computed), "lost": 0}) + "\n")


def test_a_corrupt_weight_file_is_a_named_failure_and_loses_nothing(tmp_path, cache, reference):
    config = load_config(_config(tmp_path, cache))
    weights = (snapshot_folder(cache, PYTHIA_REPO, "step4") / "model.safetensors").resolve()
    private = tmp_path / "private-cache"
    shutil.copytree(cache, private, symlinks=True)
    blob = (snapshot_folder(private, PYTHIA_REPO, "step4") / "model.safetensors").resolve()
    data = bytearray(weights.read_bytes())
    data[8:40] = b"\x00" * 32  # same length, header garbage: a damaged copy, not a slow one
    blob.write_bytes(bytes(data))
    config = dataclasses.replace(config, series=(dataclasses.replace(
        config.series[0], cache_dir=str(private)),))
    result, = run_config(config)
    assert sorted(result.computed) == [s for s in STEPS if s != 4]
    assert list(result.failed) == [4] and len(result.failed[4].splitlines()) == 1
    assert result.failed[4].startswith(f"{PYTHIA_REPO}@step4: model.safetensors is corrupt")
    status, = config_status(config)
    assert status.failed[4] == result.failed[4]
    assert Journal.load(config.series[0].store).failed_steps() == {4: result.failed[4]}
    blob.write_bytes(weights.read_bytes())  # a fresh download
    fixed, = run_config(config)
    assert fixed.computed == [4] and fixed.failed == {}
    _check_store(config.series[0].store, reference)


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs for the store where mounting is allowed (root), else None."""
    mount = tmp_path / "small"
    mount.mkdir()
    ok = not os.environ.get("TRACKER_NO_TMPFS") and shutil.which("mount") and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
        capture_output=True).returncode == 0
    yield mount if ok else None
    if ok:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_is_a_clear_error_and_loses_nothing(tmp_path, cache, reference, small_disk,
                                                        monkeypatch):
    root = small_disk or tmp_path
    config = load_config(_config(root, cache))
    store = config.series[0].store
    filler = root / "filler"
    if small_disk is not None:
        store.parent.mkdir(parents=True)
        free = shutil.disk_usage(root).free
        filler.write_bytes(b"\0" * (free - 44 * 1024))  # room for two shards, not three
    else:  # simulated: from the third shard on, writes fail as on a full disk
        from tracker.store import atomic

        calls = [0]

        def full_open(path, mode="r", *args, **kwargs):
            if "w" in mode and ".step" in str(path) and not filler.exists():
                calls[0] += 1
                if calls[0] >= 3:
                    raise OSError(28, "No space left on device")
            return open(path, mode, *args, **kwargs)

        monkeypatch.setattr(atomic, "open", full_open, raising=False)
    result, = run_config(config)
    stored = sorted(read_shard(p).step for p in list_shards(store))
    assert len(stored) >= 2 and set(result.failed) | set(stored) == set(STEPS)
    assert all("No space left on device" in e for e in result.failed.values())
    assert all(len(e.splitlines()) == 1 for e in result.failed.values())
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    if small_disk is not None:
        filler.unlink()  # space is freed
    else:
        filler.write_text("freed")
    again, = run_config(config)
    assert again.failed == {} and again.error == ""
    assert sorted(again.computed) == sorted(set(STEPS) - set(stored))
    _check_store(store, reference)
