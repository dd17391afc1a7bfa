"""A sweep killed with SIGKILL mid-way and run again completes without recomputing."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np

from tests.support.builders import PYTHIA_REPO, build_pythia_cache
from tracker.store import SeriesStore, list_shards
from tracker.store.validate import validate_file

STEPS = list(range(0, 24))


def _sweep_cmd(cache, store):
    return [sys.executable, "-m", "tracker.cli.main", "sweep", PYTHIA_REPO, "--cache-dir",
            str(cache), "--store", str(store), "--no-progress", "--probes", "induction",
            # Enough work per step that the kill lands mid-sweep.
            "--probe-config", "induction.n_seqs=80"]


def test_sigkill_midway_then_resume(tmp_path):
    cache = build_pythia_cache(tmp_path / "cache", STEPS)
    store = tmp_path / "store.h5"
    proc = subprocess.Popen(_sweep_cmd(cache, store), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 120
    while len(list_shards(store)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in list_shards(store)}
    assert 3 <= len(done) < len(STEPS), "the kill should land mid-sweep"
    assert not store.exists()  # consolidation only happens at the end

    rerun = subprocess.run(_sweep_cmd(cache, store), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    match = re.search(r"computed (\d+) probe results at (\d+) steps \((\d+) checkpoint loads\), "
                      r"(\d+) steps already stored", rerun.stdout)
    assert match, rerun.stdout
    computed, steps, loads, skipped = map(int, match.groups())
    assert skipped == len(done)
    assert computed == steps == loads == len(STEPS) - len(done)
    # Shards stored before the kill were not rewritten.
    for shard in list_shards(store):
        if shard.name in done:
            assert (shard.stat().st_ino, shard.stat().st_mtime_ns) == done[shard.name]
    assert validate_file(store) == []
    view = SeriesStore(store)
    assert view.steps.tolist() == STEPS
    assert np.isfinite(view.metric("induction", "induction_score")).all()
    assert not [p for p in (tmp_path / "store.h5.shards").iterdir() if p.name.endswith(".tmp")]
