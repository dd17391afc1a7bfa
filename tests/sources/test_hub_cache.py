import shutil
from pathlib import Path

import pytest
import torch
from huggingface_hub import scan_cache_dir

from tests.support.builders import PYTHIA_REPO, SPINE_STEPS, build_pythia_cache
from tracker.errors import SourceError
from tracker.sources import HubSeries, list_cached_refs, open_series
from tracker.sources.hf_cache import repo_folder


def test_cache_is_laid_out_as_the_hub_lays_it_out(pythia_cache):
    repo = repo_folder(pythia_cache, PYTHIA_REPO)
    assert repo.name == "models--EleutherAI--pythia-tiny"
    refs = list_cached_refs(pythia_cache, PYTHIA_REPO)
    assert sorted(refs) == sorted(f"step{s}" for s in SPINE_STEPS)
    commit = refs["step1000"]
    weights = repo / "snapshots" / commit / "model.safetensors"
    assert weights.is_symlink()
    assert weights.resolve().parent == (repo / "blobs").resolve()
    # huggingface_hub's own cache scanner understands the layout: one repo, one revision per ref.
    info = scan_cache_dir(pythia_cache)
    (repo_info,) = [r for r in info.repos if r.repo_id == PYTHIA_REPO]
    assert {ref for rev in repo_info.revisions for ref in rev.refs} == set(refs)


def test_offline_series_lists_and_loads_through_from_pretrained(pythia_cache):
    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    assert isinstance(series, HubSeries) and series.local_files_only
    ckpts = series.checkpoints()
    assert [c.step for c in ckpts] == SPINE_STEPS
    assert ckpts[3].revision == "step4" and ckpts[3].tokens == 4 * 2_097_152
    a, b = series.load(ckpts[0]), series.load(ckpts[1])
    assert a.model.config._attn_implementation == "eager"
    assert a.weights_hash != b.weights_hash
    assert not torch.equal(a.model.gpt_neox.embed_in.weight, b.model.gpt_neox.embed_in.weight)
    assert a.tokenizer is not None and a.tokenizer.bos_token_id == 0
    assert b.provenance["commit"] == list_cached_refs(pythia_cache, PYTHIA_REPO)["step1"]
    # Reloading gives the same hash: the hash is a function of content.
    assert series.load(ckpts[0]).weights_hash == a.weights_hash


def test_missing_revision_names_it(pythia_cache):
    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    ckpt = series.checkpoints()[0]
    from dataclasses import replace

    with pytest.raises(SourceError, match="step777"):
        series.load(replace(ckpt, step=777, revision="step777"))


def test_empty_cache_names_repo(tmp_path):
    with pytest.raises(SourceError, match="EleutherAI/pythia-none"):
        open_series("EleutherAI/pythia-none", cache_dir=tmp_path).checkpoints()


def test_truncated_weights_name_the_revision(tmp_path):
    cache = build_pythia_cache(tmp_path / "c", [0, 1])
    series = open_series(PYTHIA_REPO, cache_dir=cache)
    ckpt = series.checkpoints()[1]
    commit = list_cached_refs(cache, PYTHIA_REPO)["step1"]
    link = repo_folder(cache, PYTHIA_REPO) / "snapshots" / commit / "model.safetensors"
    blob = link.resolve()
    data = blob.read_bytes()
    blob.unlink()
    blob.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"pythia-tiny@step1: cannot load weights"):
        series.load(ckpt)


def test_identical_weight_branches_share_a_hash(tmp_path):
    cache = build_pythia_cache(tmp_path / "c", [0, 1, 2], repeat_steps=(2,))
    series = open_series(PYTHIA_REPO, cache_dir=cache)
    hashes = [series.load(c).weights_hash for c in series.checkpoints()]
    assert hashes[0] != hashes[1] and hashes[1] == hashes[2]


def test_tokens_per_step_from_suite_metadata(tmp_path):
    cache = build_pythia_cache(tmp_path / "c", [0, 5])
    (repo_folder(cache, PYTHIA_REPO) / "tracker_series.json").write_text('{"tokens_per_step": 640}')
    series = open_series(PYTHIA_REPO, cache_dir=cache)
    assert [c.tokens for c in series.checkpoints()] == [0, 3200]


def test_copied_cache_still_loads(tmp_path, pythia_cache):
    # Relative symlinks: a cache moved elsewhere (as users rsync them) keeps working.
    moved = tmp_path / "moved"
    shutil.copytree(pythia_cache, moved, symlinks=True)
    series = open_series(PYTHIA_REPO, cache_dir=Path(moved))
    assert series.load(series.checkpoints()[-1]).model.config.num_hidden_layers == 2


def test_partial_writes_are_not_refs_and_are_removed(tmp_path):
    from tracker.sources.hf_cache import remove_partial_writes

    cache = build_pythia_cache(tmp_path / "cache", [0, 1])
    repo = repo_folder(cache, PYTHIA_REPO)
    before = list_cached_refs(cache, PYTHIA_REPO)
    # What a kill inside write_cache_revision can leave: a staging folder, a half blob, a
    # half-written ref.
    (repo / ".staging-abc" / "sub").mkdir(parents=True)
    (repo / "blobs" / "0f0f.incomplete").write_bytes(b"half")
    (repo / "refs" / "step2.incomplete").write_text("deadbeef")
    assert list_cached_refs(cache, PYTHIA_REPO) == before
    assert remove_partial_writes(cache, PYTHIA_REPO) == 3
    assert not (repo / ".staging-abc").exists()
    assert sorted(p.name for p in (repo / "refs").iterdir()) == sorted(before)
    assert not list((repo / "blobs").glob("*.incomplete"))
    assert open_series(PYTHIA_REPO, cache_dir=cache).checkpoints()[-1].step == 1
    assert remove_partial_writes(cache, "nobody/none") == 0
