"""Scheduled sweeps from a config: idempotent, incremental, honest about what waits or failed."""

import logging
import os

import h5py
import numpy as np
import pytest

from tests.support.builders import PYTHIA_REPO, build_pythia_cache
from tests.support.sweeps import assert_same_values, hub_config, store_values
from tracker.cli.main import main
from tracker.runner.config import load_config
from tracker.runner.scheduled import run_config
from tracker.runner.status import config_status, format_status
from tracker.sources.hf_cache import repo_folder, snapshot_folder
from tracker.store import Journal, SweepLock, list_shards
from tracker.store.validate import validate_file

STEPS = [0, 1, 2, 4]


@pytest.fixture
def cache(tmp_path):
    return build_pythia_cache(tmp_path / "cache", STEPS)


def _config(tmp_path, cache, **kw):
    return load_config(hub_config(tmp_path / "sweep.toml", cache, tmp_path / "stores", **kw))


def _store(tmp_path):
    return tmp_path / "stores" / "pythia-tiny.h5"


def test_cron_runs_process_only_new_checkpoints(tmp_path, cache):
    config = _config(tmp_path, cache)
    first, = run_config(config)
    assert (first.computed, first.failed, first.busy) == (STEPS, {}, "")
    store = _store(tmp_path)
    assert validate_file(store) == []
    stamps = {p.name: p.stat().st_mtime_ns for p in list_shards(store)}
    store_stamp = store.stat().st_mtime_ns

    second, = run_config(config)  # nothing new: no load, no rewrite
    assert (second.computed, second.done_before) == ([], len(STEPS))
    assert {p.name: p.stat().st_mtime_ns for p in list_shards(store)} == stamps
    assert store.stat().st_mtime_ns == store_stamp

    build_pythia_cache(cache, [8])  # the training run wrote another checkpoint
    third, = run_config(config)
    assert third.computed == [8] and third.done_before == len(STEPS)
    with h5py.File(store) as f:
        assert f["checkpoints/step"][()].tolist() == [*STEPS, 8]
    runs = Journal.load(store).runs
    assert [r.computed_steps for r in runs] == [4, 1]  # idle runs are not kept beside them


def test_checkpoints_still_being_written_wait_for_the_next_run(tmp_path, cache):
    config = _config(tmp_path, cache)
    weights = snapshot_folder(cache, PYTHIA_REPO, "step2") / "model.safetensors"
    blob = weights.resolve()
    whole = blob.read_bytes()
    blob.write_bytes(whole[: len(whole) // 3])
    result, = run_config(config)
    assert result.computed == [0, 1, 4]
    assert list(result.incomplete) == [2] and "truncated" in result.incomplete[2]
    status, = config_status(config)
    assert status.pending == [] and list(status.incomplete) == [2]
    assert "skip 1 still being written (2)" in status.next_run()
    blob.write_bytes(whole)
    again, = run_config(config)
    assert again.computed == [2] and again.incomplete == {}
    assert SweepLock(_store(tmp_path)).path.exists() is False


def test_a_failing_probe_is_journaled_and_the_other_probes_are_kept(tmp_path, cache, monkeypatch,
                                                                    caplog):
    from transformers import PreTrainedTokenizerFast

    config = _config(tmp_path, cache, probes=("induction", "ioi"))
    original = PreTrainedTokenizerFast.encode

    def broken(self, *args, **kwargs):
        raise OSError("tokenizer.json vanished")

    monkeypatch.setattr(PreTrainedTokenizerFast, "encode", broken)
    with caplog.at_level(logging.ERROR):
        result, = run_config(config)
    assert result.computed == STEPS and sorted(result.failed) == STEPS
    assert result.failed[0] == ("step 0: probe 'ioi' failed: "
                                "OSError('tokenizer.json vanished')")
    with h5py.File(_store(tmp_path)) as f:
        assert list(f["results"]) == ["induction"]  # kept for every step
        assert f["checkpoints/step"][()].tolist() == STEPS
    status, = config_status(config)
    assert status.failed[2] == "step 2: probe 'ioi' failed: OSError('tokenizer.json vanished')"
    assert status.pending == STEPS and "retry 4 failed (0, 1, 2, 4)" in status.next_run()
    lines = format_status(status)
    assert "  failed     4" in lines
    assert "    step 1: step 1: probe 'ioi' failed: OSError('tokenizer.json vanished')" in lines

    monkeypatch.setattr(PreTrainedTokenizerFast, "encode", original)
    fixed, = run_config(config)
    assert fixed.computed == STEPS and fixed.failed == {}
    assert Journal.load(_store(tmp_path)).failures == {}
    with h5py.File(_store(tmp_path)) as f:
        assert sorted(f["results"]) == ["induction", "ioi"]


def test_an_overlapping_run_leaves_a_locked_series_alone(tmp_path, cache):
    config = _config(tmp_path, cache)
    with SweepLock(_store(tmp_path)):
        result, = run_config(config)
        assert result.computed == [] and f"pid {os.getpid()}" in result.busy
        status, = config_status(config)
        assert status.running and status.next_run().startswith("wait: a sweep is running")
    assert not _store(tmp_path).exists()


def test_evicting_processed_checkpoints_frees_the_cache(tmp_path, cache):
    config = _config(tmp_path, cache, disk={"evict": True})
    blobs = repo_folder(cache, PYTHIA_REPO) / "blobs"
    before = sum(p.stat().st_size for p in blobs.iterdir())
    result, = run_config(config)
    after = sum(p.stat().st_size for p in blobs.iterdir())
    assert result.computed == STEPS and result.evicted_bytes == before - after > 0
    assert Journal.load(_store(tmp_path)).evicted == STEPS
    again, = run_config(config)  # evicted and done: neither missing nor pending
    assert again.computed == [] and again.incomplete == {} and again.done_before == 4


def test_a_damaged_store_is_rebuilt_from_its_shards(tmp_path, cache, caplog):
    config = _config(tmp_path, cache)
    run_config(config)
    store = _store(tmp_path)
    before = store_values(store)
    store.write_bytes(store.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING):
        result, = run_config(config)
    assert result.error == "" and "rebuilding it from the shards" in caplog.text
    assert validate_file(store) == []
    assert_same_values(store_values(store), before)


def test_a_corrupt_shard_is_moved_aside_and_computed_again(tmp_path, cache):
    config = _config(tmp_path, cache)
    run_config(config)
    store = _store(tmp_path)
    before = store_values(store)
    shard = list_shards(store)[1]
    shard.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(2000))
    result, = run_config(config)
    assert result.computed == [1] and "unreadable shard" in result.notes[0]
    assert len(list(shard.parent.glob("*.corrupt-*"))) == 1
    assert_same_values(store_values(store), before)


def test_an_architecture_change_between_steps_is_one_line(tmp_path):
    cache = build_pythia_cache(tmp_path / "cache", [0, 1])
    build_pythia_cache(cache, [2], num_hidden_layers=3)
    result, = run_config(_config(tmp_path, cache))
    assert result.computed == [0, 1, 2]
    assert len(result.error.splitlines()) == 1
    assert ("has shape (3, 4) at step 2 but (2, 4) at step 0: the architecture changed "
            "between steps") in result.error


def test_cli_sweep_and_status(tmp_path, cache, capsys):
    config = hub_config(tmp_path / "sweep.toml", cache, tmp_path / "stores", detect=True)
    assert main(["sweep", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pythia-tiny: computed 4 checkpoint(s), 0 already done, ")
    assert "events detected" in out
    assert main(["status", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"pythia-tiny  ({_store(tmp_path)})"
    assert lines[1:4] == ["  done       4", "  pending    0", "  failed     0"]
    assert lines[-1] == "  next run   nothing to do"
    assert lines[-2].startswith("  throughput ") and lines[-2].endswith(" checkpoints/hour")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[series]]\nhub = 'a/b'\n[executor]\nkind = 'spark'\n")
    assert main(["sweep", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: executor.kind: expected sequential or processes or ray" in err
    assert main(["sweep", PYTHIA_REPO, "--cache-dir", str(cache)]) == 1  # the series form
    assert "--store is required (or give a sweep config .toml)" in capsys.readouterr().err


def test_new_steps_go_to_one_wandb_run_in_order(tmp_path, cache, monkeypatch):
    from tracker.wandb_logging import read_offline_run

    monkeypatch.setenv("WANDB_MODE", "offline")
    wb = tmp_path / "wb"
    extra = {"wandb": {"enabled": True, "mode": "offline", "dir": str(wb), "heatmaps": False}}
    config = _config(tmp_path, cache, **extra)
    result, = run_config(config, publish=_publisher(config))
    assert result.published == 4
    build_pythia_cache(cache, [8])
    result, = run_config(config, publish=_publisher(config))
    assert result.published == 1
    journal = Journal.load(_store(tmp_path))
    assert journal.wandb_last_step == 8 and journal.wandb_run_id
    runs = sorted((wb / "wandb").glob("offline-run-*"))
    assert len(runs) == 2
    steps = [[row["train_step"] for row in read_offline_run(r, wait_s=30).history] for r in runs]
    assert steps == [STEPS, [8]]
    assert {read_offline_run(r).run["id"] for r in runs} == {journal.wandb_run_id}


def _publisher(config):
    from tracker.wandb_logging.scheduled import make_publisher

    return make_publisher(config.wandb, config.probe_set().build())


def test_nan_values_are_stored_as_nan(tmp_path, cache, monkeypatch):
    from tracker.probes.induction import InductionProbe

    original = InductionProbe.run

    def nan_at_two(self, ctx):
        values = dict(original(self, ctx))
        if ctx.step == 2:
            values = {k: np.full_like(np.asarray(v, dtype=float), np.nan)
                      for k, v in values.items()}
        return values

    monkeypatch.setattr(InductionProbe, "run", nan_at_two)
    result, = run_config(_config(tmp_path, cache, detect=True))
    assert result.error == "" and result.computed == STEPS
    assert result.all_nan == {"induction": [2]}
    with h5py.File(_store(tmp_path)) as f:
        scores = f["results/induction"][next(iter(f["results/induction"]))]["induction_score"]
        assert np.isnan(scores[2]).all() and np.isfinite(scores[3]).all()


def test_a_local_run_being_saved_is_skipped_until_whole(tmp_path):
    from tests.support.builders import tiny_model, tiny_tokenizer
    from tests.support.sweeps import FAST_INDUCTION, write_config

    run = tmp_path / "run"
    for step in (0, 10):
        tiny_model(seed=step + 1).save_pretrained(run / f"step{step}")
    tiny_tokenizer().save_pretrained(run / "step0")
    (run / "step20").mkdir()  # save_pretrained has written config.json, not the weights yet
    (run / "step20" / "config.json").write_text((run / "step0" / "config.json").read_text())
    config = load_config(write_config(tmp_path / "s.toml", [{"folder": "run"}], {
        "store": {"dir": "stores"}, "probes": {"names": ["induction"]},
        "probes.config.induction": FAST_INDUCTION, "detect": {"enabled": False}}))
    result, = run_config(config)
    assert result.computed == [0, 10]
    assert result.incomplete == {20: "no weights file (model.safetensors or pytorch_model.bin)"}
    tiny_model(seed=21).save_pretrained(run / "step20")
    again, = run_config(config)
    assert again.computed == [20] and again.incomplete == {}


def test_locks_are_kept_alive_while_tasks_run(tmp_path):
    from tracker.runner.scheduled import _Heartbeat
    from tracker.store.lock import read_owner

    lock = SweepLock(tmp_path / "s.h5", stale_after=0.2)
    lock.acquire()
    first = read_owner(tmp_path / "s.h5").heartbeat
    with _Heartbeat({"s": lock}, every=0.05):
        import time

        time.sleep(0.3)
    assert read_owner(tmp_path / "s.h5").heartbeat > first
    assert read_owner(tmp_path / "s.h5").stale(0.2) is None
    lock.release()
