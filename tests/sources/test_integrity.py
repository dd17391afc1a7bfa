"""Weight identities: hub blobs are read, local files hashed, old stores still check."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import torch

from tests.support.builders import PYTHIA_REPO, tiny_model
from tracker.sources import open_series
from tracker.sources.hf_cache import snapshot_folder
from tracker.sources.integrity import (
    file_sha256,
    files_hash,
    legacy_weights_hash,
    same_weights,
    weights_hash,
)
from tracker.sources.local import LocalFolderSeries


def test_a_hub_blob_is_not_read_and_its_name_is_the_files_sha256(pythia_cache: Path) -> None:
    folder = snapshot_folder(pythia_cache, PYTHIA_REPO, "step1000")
    assert folder is not None
    link = folder / "model.safetensors"
    assert file_sha256(link) == hashlib.sha256(link.read_bytes()).hexdigest()


def test_a_copy_of_the_files_elsewhere_has_the_same_identity(
    pythia_cache: Path, tmp_path: Path
) -> None:
    """The hub snapshot (blob names) and a plain folder copy (hashed) agree; dtype counts."""
    folder = snapshot_folder(pythia_cache, PYTHIA_REPO, "step1000")
    assert folder is not None
    copy = tmp_path / "step1000"
    shutil.copytree(folder, copy, symlinks=False)
    assert not (copy / "model.safetensors").is_symlink()
    from_hub = files_hash(folder, torch.float32)
    assert from_hub is not None and from_hub.startswith("files:")
    assert files_hash(copy, torch.float32) == from_hub
    assert files_hash(copy, torch.bfloat16) != from_hub
    assert files_hash(tmp_path, torch.float32) is None  # no weights file: no file identity


def test_series_store_file_identities_and_a_model_without_files_its_content(
    pythia_cache: Path, tmp_path: Path
) -> None:
    hub = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    ckpt = hub.checkpoints()[2]
    loaded = hub.load(ckpt)
    folder = snapshot_folder(pythia_cache, PYTHIA_REPO, ckpt.revision)
    assert folder is not None
    assert loaded.weights_hash == files_hash(folder, torch.float32)
    run = tmp_path / "run"
    shutil.copytree(folder, run / f"step{ckpt.step}", symlinks=False)
    local = LocalFolderSeries(run)
    assert local.load(local.checkpoints()[0]).weights_hash == loaded.weights_hash
    model = tiny_model()
    assert weights_hash(model).startswith("sha256:") and weights_hash(model) == weights_hash(
        tiny_model())
    assert weights_hash(model) != weights_hash(tiny_model(seed=1))


def test_stores_written_with_content_hashes_still_check() -> None:
    model, other = tiny_model(), tiny_model(seed=1)
    legacy = legacy_weights_hash(model)
    assert len(legacy) == 32 and ":" not in legacy
    current = "files:" + "0" * 32
    assert same_weights(legacy, current, model)
    assert not same_weights(legacy, current, other)
    assert same_weights(weights_hash(model), current, model)
    assert not same_weights(weights_hash(model), current, other)
    assert not same_weights("files:" + "1" * 32, current, model)  # a file identity must match
