"""The sweep lock: exclusive, recovered when its holder died, never broken while it lives."""

import json
import multiprocessing
import os
import subprocess
import sys
import time

import pytest

from tracker.store.lock import LockBusyError, LockOwner, SweepLock, lock_path, read_owner


def test_second_holder_is_refused_and_the_lock_is_released(tmp_path):
    store = tmp_path / "s.h5"
    with SweepLock(store) as lock:
        owner = read_owner(store)
        assert (owner.pid, owner.host) == (os.getpid(), lock.owner.host)
        with pytest.raises(LockBusyError, match=rf"another sweep holds it \(pid {os.getpid()}"):
            SweepLock(store).acquire()
    assert not lock_path(store).exists()
    with SweepLock(store):  # free again
        pass


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lock_left_by_a_dead_process_is_recovered(tmp_path):
    store = tmp_path / "s.h5"
    dead = LockOwner.me().__dict__ | {"pid": _dead_pid(), "started": ""}
    lock_path(store).write_text(json.dumps(dead))
    lock = SweepLock(store)
    lock.acquire()
    assert lock.recovered.startswith("recovered a stale lock (pid ")
    assert f"pid {dead['pid']} is no longer running" in lock.recovered
    assert read_owner(store).pid == os.getpid()
    lock.release()


def test_a_recycled_pid_is_not_mistaken_for_the_owner(tmp_path):
    store = tmp_path / "s.h5"
    # This very process, but a different start time: the PID was reused by someone else.
    me = LockOwner.me().__dict__ | {"started": "1"}
    lock_path(store).write_text(json.dumps(me))
    with SweepLock(store) as lock:
        assert "no longer running" in lock.recovered


def test_other_hosts_locks_go_stale_by_heartbeat(tmp_path):
    store = tmp_path / "s.h5"
    now = time.time()
    other = {"host": "elsewhere", "pid": 1, "started": "", "since": now - 100,
             "heartbeat": now - 50}
    lock_path(store).write_text(json.dumps(other))
    with pytest.raises(LockBusyError, match="pid 1 on elsewhere"):
        SweepLock(store, stale_after=60).acquire()
    with SweepLock(store, stale_after=30) as lock:
        assert "no heartbeat for 5" in lock.recovered


def test_heartbeat_refreshes_and_detects_a_stolen_lock(tmp_path):
    store = tmp_path / "s.h5"
    lock = SweepLock(store)
    lock.acquire()
    before = read_owner(store).heartbeat
    time.sleep(0.01)
    lock.heartbeat()
    assert read_owner(store).heartbeat > before
    lock_path(store).write_text(json.dumps(LockOwner.me().__dict__ | {"pid": 1}))
    with pytest.raises(LockBusyError, match="lost the lock"):
        lock.heartbeat()
    lock.release()
    assert lock_path(store).exists()  # not ours any more: left alone


def test_a_torn_lock_file_is_recovered_after_a_grace_period(tmp_path):
    store = tmp_path / "s.h5"
    lock_path(store).write_text("")
    with pytest.raises(LockBusyError):
        SweepLock(store).acquire()
    old = time.time() - 60
    os.utime(lock_path(store), (old, old))
    with SweepLock(store) as lock:
        assert lock.recovered


def _contend(store, start, results):
    start.wait()
    try:
        with SweepLock(store):
            results.put("got")
            time.sleep(0.3)
    except LockBusyError:
        results.put("busy")


def test_racing_processes_over_a_stale_lock_only_one_wins(tmp_path):
    store = tmp_path / "s.h5"
    lock_path(store).write_text(json.dumps(LockOwner.me().__dict__ | {"pid": _dead_pid(),
                                                                       "started": ""}))
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(store, start, results)) for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(30)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes == ["busy", "busy", "busy", "got"]
