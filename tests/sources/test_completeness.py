"""Completeness of checkpoints still being written, and eviction from the download cache."""

import json
import shutil

import pytest
import torch

from tests.support.builders import PYTHIA_REPO, build_pythia_cache, tiny_model, tiny_tokenizer
from tracker.sources import LocalFolderSeries, open_series
from tracker.sources.completeness import folder_problem, weights_file_problem
from tracker.sources.hf_cache import repo_folder, snapshot_folder


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "step10"
    tiny_model(seed=1).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


def _copy(saved, tmp_path, name="step10"):
    return shutil.copytree(saved, tmp_path / name)


def test_a_saved_folder_is_complete(saved):
    assert folder_problem(saved) is None
    assert weights_file_problem(saved / "model.safetensors") is None


@pytest.mark.parametrize("cut", [4, 100, -1])
def test_truncated_safetensors_are_caught_from_the_header(saved, tmp_path, cut):
    folder = _copy(saved, tmp_path)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:cut])
    problem = folder_problem(folder)
    assert problem is not None and problem.startswith("model.safetensors ")
    assert "truncated" in problem or "unreadable header" in problem


def test_save_pretrained_in_progress(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    (folder / "model.safetensors").unlink()
    assert folder_problem(folder) == "no weights file (model.safetensors or pytorch_model.bin)"
    (folder / "model.safetensors.tmp").write_bytes(b"x")
    assert folder_problem(folder) == "model.safetensors.tmp is still being written"
    (folder / "config.json").unlink()
    assert folder_problem(folder) == "config.json is missing"


def test_sharded_checkpoints_need_every_shard(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors",
                            "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    assert folder_problem(folder) == "model-00002-of-00002.safetensors is missing"
    shutil.copy(folder / "model-00001-of-00002.safetensors",
                folder / "model-00002-of-00002.safetensors")
    assert folder_problem(folder) is None


def test_torch_bin_files_need_their_zip_directory(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    (folder / "model.safetensors").unlink()
    torch.save(tiny_model(seed=1).state_dict(), folder / "pytorch_model.bin")
    assert folder_problem(folder) is None
    data = (folder / "pytorch_model.bin").read_bytes()
    (folder / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    assert folder_problem(folder) is not None


def test_local_series_reports_incomplete_folders(saved, tmp_path):
    _copy(saved, tmp_path, "step10")
    part = _copy(saved, tmp_path, "step20")
    (part / "model.safetensors").write_bytes((part / "model.safetensors").read_bytes()[:5000])
    series = LocalFolderSeries(tmp_path)
    assert {c.step: series.incomplete(c) for c in series.checkpoints()} == {
        10: None, 20: "model.safetensors is truncated (5000 of "
        f"{(saved / 'model.safetensors').stat().st_size} bytes)"}


def test_hub_cache_completeness_and_eviction(tmp_path):
    cache = build_pythia_cache(tmp_path / "cache", [0, 1, 2], repeat_steps=(2,))
    series = open_series(PYTHIA_REPO, cache_dir=cache)
    ckpts = {c.step: c for c in series.checkpoints()}
    assert [series.incomplete(c) for c in ckpts.values()] == [None, None, None]
    blobs = repo_folder(cache, PYTHIA_REPO) / "blobs"
    before = {p.name: p.stat().st_size for p in blobs.iterdir()}
    freed = series.evict(ckpts[0])
    gone = set(before) - {p.name for p in blobs.iterdir()}
    # Only step 0's weights were its own; config and tokenizer blobs are shared and stay.
    assert len(gone) == 1 and freed == before[gone.pop()] > 10_000
    assert series.incomplete(ckpts[0]) == "snapshot is not in the cache (evicted?)"
    assert [c.step for c in series.checkpoints()] == [0, 1, 2]  # the ref stays listed
    assert series.evict(ckpts[0]) == 0
    # Step 2 holds step 1's weights (the same snapshot): evicting step 1 must not break it.
    assert series.evict(ckpts[1]) == 0
    assert series.incomplete(ckpts[2]) is None and series.load(ckpts[2]).weights_hash
    assert snapshot_folder(cache, PYTHIA_REPO, "step9") is None
