"""Training the tiny suite: hub-layout caches, loading, exact resume, caching."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from tracker.organisms import SuiteInfo, get_suite, suite_info, train_suite
from tracker.sources import list_cached_refs, open_series
from tracker.sources.hf_cache import repo_folder
from tracker.sources.integrity import weights_hash


def _final_weights(info: SuiteInfo, index: int, step: int | None = None) -> dict[str, torch.Tensor]:
    series = info.models[index].open()
    ckpts = series.checkpoints()
    ckpt = ckpts[-1] if step is None else next(c for c in ckpts if c.step == step)
    return {k: v.clone() for k, v in series.load(ckpt).model.state_dict().items()}


def test_tiny_suite_trains_quickly(tiny_suite: SuiteInfo) -> None:
    assert tiny_suite.complete
    assert tiny_suite.wall_seconds < 60
    assert [r.cached for r in tiny_suite.results] == [False, False]
    assert all(r.tokens_per_second > 0 for r in tiny_suite.results)
    spec = get_suite("tiny")
    assert [m.repo_id for m in tiny_suite.models] == [spec.repo_id(m) for m in spec.models]
    assert [m.seed for m in tiny_suite.models] == [0, 1]


def test_cache_refs_list_the_schedule(tiny_suite: SuiteInfo) -> None:
    spec = get_suite("tiny").models[0]
    expected = spec.checkpoint_steps()
    assert expected[:4] == [0, 1, 2, 4] and expected[-1] == spec.steps
    for model in tiny_suite.models:
        refs = list_cached_refs(model.cache_dir, model.repo_id)
        assert sorted(refs) == sorted(f"step{s}" for s in expected)
        folder = repo_folder(model.cache_dir, model.repo_id)
        assert all((folder / "snapshots" / commit).is_dir() for commit in refs.values())
        meta = json.loads((folder / "tracker_series.json").read_text())
        assert meta["tokens_per_step"] == spec.batch_size * spec.seq_len
        assert meta["complete"] is True
        assert set(meta["loss"]) == {str(s) for s in expected if s > 0}


def test_series_load_through_open_series(tiny_suite: SuiteInfo) -> None:
    model = tiny_suite.models[0]
    series = open_series(model.repo_id, cache_dir=model.cache_dir)
    ckpts = series.checkpoints()
    assert [c.step for c in ckpts] == list(model.steps)
    assert series.tokens_per_step == model.tokens_per_step
    assert ckpts[-1].tokens == model.steps[-1] * model.tokens_per_step
    first, last = series.load(ckpts[0]), series.load(ckpts[-1])
    assert first.model.config.model_type == "gpt_neox"
    assert first.model.config.use_parallel_residual is True
    # Pythia's rotary width: a quarter of each head's dimensions.
    head_dim = model.d_model // model.n_heads
    assert first.model.gpt_neox.layers[0].attention.rotary_ndims == head_dim // 4
    assert first.weights_hash != last.weights_hash
    ids = first.tokenizer(" Monday, then Tuesday", return_tensors="pt")["input_ids"]
    assert ids.shape == (1, 4)
    assert first.model(ids).logits.shape == (1, 4, len(first.tokenizer))
    # Training lowered the loss between the first and the last checkpoint.
    meta = json.loads((repo_folder(model.cache_dir, model.repo_id) / "tracker_series.json")
                      .read_text())
    losses = [meta["loss"][str(s)] for s in model.steps[1:]]
    assert losses[-1] < losses[0] - 0.5


def test_seeds_differ(tiny_suite: SuiteInfo) -> None:
    a = tiny_suite.models[0].open()
    b = tiny_suite.models[1].open()
    ha = a.load(a.checkpoints()[0]).weights_hash
    hb = b.load(b.checkpoints()[0]).weights_hash
    assert ha != hb


def test_resume_after_kill_matches_uninterrupted(tiny_suite: SuiteInfo, tmp_path: Path) -> None:
    partial = train_suite("tiny", tmp_path, threads=1, stop_after=5, progress=False)
    assert not partial.complete
    steps = get_suite("tiny").models[0].checkpoint_steps()
    for model in partial.models:
        refs = list_cached_refs(model.cache_dir, model.repo_id)
        assert sorted(refs, key=lambda r: int(r[4:])) == [f"step{s}" for s in steps[:5]]
    assert all(r.end_step == steps[4] for r in partial.results)

    resumed = train_suite("tiny", tmp_path, threads=1, progress=False)
    assert resumed.complete
    assert [r.start_step for r in resumed.results] == [steps[4], steps[4]]
    for index in range(len(resumed.models)):
        for step in (steps[2], steps[-1]):
            ours = _final_weights(resumed, index, step)
            reference = _final_weights(tiny_suite, index, step)
            assert ours.keys() == reference.keys()
            assert all(torch.equal(ours[k], reference[k]) for k in ours)
    a, b = resumed.models[0].open(), tiny_suite.models[0].open()
    assert a.load(a.checkpoints()[-1]).weights_hash == b.load(b.checkpoints()[-1]).weights_hash
    assert weights_hash is not None
    # Resume state is dropped once a model is complete.
    assert not any((tmp_path / "state").glob("*/state.pt"))


def test_sigkill_mid_training_then_resume_matches_uninterrupted(
    tiny_suite: SuiteInfo, tmp_path: Path
) -> None:
    """A real kill, wherever it lands, loses at most the steps since the last checkpoint."""
    cmd = [sys.executable, "-m", "tracker.cli.main", "organisms", "train", "--suite", "tiny",
           "--root", str(tmp_path), "--threads", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=os.environ | {"TRACKER_ORGANISMS_ROOT": str(tmp_path)})
    first = tiny_suite.models[0]
    deadline = time.time() + 120
    while (len(list_cached_refs(tmp_path / "hub", first.repo_id)) < 6
           and time.time() < deadline and proc.poll() is None):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = list_cached_refs(tmp_path / "hub", first.repo_id)
    assert 6 <= len(kept) < len(first.steps), "the kill should land mid-training"

    resumed = train_suite("tiny", tmp_path, threads=1, progress=False)
    assert resumed.complete
    assert resumed.results[0].start_step > 0  # continued, not restarted
    for index, model in enumerate(resumed.models):
        refs = list_cached_refs(model.cache_dir, model.repo_id)
        assert refs == list_cached_refs(tiny_suite.models[index].cache_dir, model.repo_id)
        ours, reference = _final_weights(resumed, index), _final_weights(tiny_suite, index)
        assert all(torch.equal(ours[k], reference[k]) for k in reference)
        folder = repo_folder(model.cache_dir, model.repo_id)
        leftovers = [p.name for p in folder.rglob("*") if ".staging-" in p.as_posix()
                     or p.name.endswith(".incomplete")]
        assert leftovers == []


def test_second_call_returns_at_once(tiny_suite: SuiteInfo, tiny_root: Path) -> None:
    start = time.perf_counter()
    again = train_suite("tiny", tiny_root, threads=1, progress=False)
    assert time.perf_counter() - start < 1.0
    assert again.complete and again.results == []
    info = suite_info("tiny", tiny_root)
    assert [m.repo_id for m in info.models] == [m.repo_id for m in tiny_suite.models]
    assert all(m.train_seconds > 0 and m.tokens_per_second > 0 for m in info.models)
    manifest = json.loads((tiny_root / "suites" / "tiny.json").read_text())
    assert [m["repo_id"] for m in manifest["models"]] == [m.repo_id for m in info.models]


def test_deep_suite_is_the_largest_default_recipe_at_depth_12() -> None:
    """The optional deep family shares the default corpus, steps and checkpoint schedule."""
    deep, default = get_suite("deep"), get_suite("default")
    (model,) = deep.models
    largest = max(default.models, key=lambda m: m.n_layers)
    assert deep.corpus.key() == default.corpus.key()
    assert (model.n_layers, model.d_model // model.n_heads) == (12, 16)
    assert model.checkpoint_steps() == largest.checkpoint_steps()
    assert (model.lr, model.weight_decay, model.batch_size, model.seq_len) == (
        largest.lr, largest.weight_decay, largest.batch_size, largest.seq_len)
    assert deep.repo_id(model) == "organisms/deep-l12-seed0"
