"""Reading checkpoints ahead into the page cache: which files, how much, and when it declines."""

import json
from pathlib import Path

import pytest

from tests.support.builders import PYTHIA_REPO
from tracker.sources import open_series
from tracker.sources.completeness import weight_files, weight_names
from tracker.sources.prefetch import FilePrefetcher, available_memory
from tracker.sources.schedule import Checkpoint


def _files(tmp_path: Path, sizes: list[int]) -> list[Path]:
    files = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"part{i}.bin"
        path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        files.append(path)
    return files


def test_prefetch_reads_every_byte_of_every_file_in_one_background_thread(tmp_path) -> None:
    # Larger than one read chunk (16 MB), so the loop over chunks is exercised.
    files = _files(tmp_path, [(1 << 24) + 1000, 3, 0])
    with FilePrefetcher() as prefetcher:
        future = prefetcher.submit(files)
        assert future is not None
        assert future.result(timeout=60) == (1 << 24) + 1003


def test_prefetch_declines_files_larger_than_its_share_of_available_memory(tmp_path) -> None:
    files = _files(tmp_path, [4096])
    if available_memory() is None:
        pytest.skip("the OS reports no available memory here")
    with FilePrefetcher(memory_share=0.0) as prefetcher:
        assert prefetcher.submit(files) is None
    with FilePrefetcher(memory_share=0.25) as prefetcher:
        future = prefetcher.submit(files)
        assert future is not None and future.result(timeout=60) == 4096


def test_prefetch_declines_missing_files_repeats_empty_requests_and_after_close(tmp_path) -> None:
    (present,) = _files(tmp_path, [10])
    prefetcher = FilePrefetcher()
    assert prefetcher.submit([present, tmp_path / "gone.safetensors"]) is None
    future = prefetcher.submit([present])
    assert future is not None and future.result(timeout=60) == 10
    link = tmp_path / "link.safetensors"
    link.symlink_to(present)
    assert prefetcher.submit([link]) is None  # the same file, read already
    assert prefetcher.submit([]) is None
    prefetcher.close()
    assert prefetcher.submit([present]) is None


def test_weight_files_are_the_files_from_pretrained_reads(tmp_path) -> None:
    single = tmp_path / "single"
    single.mkdir()
    (single / "pytorch_model.bin").write_bytes(b"b")
    assert weight_files(single) == [single / "pytorch_model.bin"]
    (single / "model.safetensors").write_bytes(b"s")
    assert weight_files(single) == [single / "model.safetensors"]  # preferred, as HF does
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    for name in names:
        (sharded / name).write_bytes(b"w")
    index = {"weight_map": {"a": names[1], "b": names[0], "c": names[1]}}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    assert weight_files(sharded) == [sharded / n for n in names]
    (sharded / "model.safetensors.index.json").write_text("{not json")
    assert weight_files(sharded) == []
    assert weight_files(tmp_path) == []


def test_hub_and_folder_series_name_their_cached_weights(tmp_path, pythia_cache) -> None:
    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    first = series.checkpoints()[0]
    (path,) = series.weight_files(first)
    assert path.name == "model.safetensors" and path.parent.parent.name == "snapshots"
    assert path.resolve().parent.name == "blobs" and path.stat().st_size > 0
    assert series.weight_files(Checkpoint(step=99, tokens=0, revision="step99")) == []
    folder = tmp_path / "run" / "step5"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"w")
    local = open_series(str(tmp_path / "run"))
    (ckpt,) = local.checkpoints()
    assert local.weight_files(ckpt) == [folder / "model.safetensors"]


def test_a_download_ahead_is_read_once_it_is_local_and_failures_are_the_loads(
    tmp_path,
) -> None:
    files = _files(tmp_path, [100, 20])
    with FilePrefetcher() as prefetcher:
        future = prefetcher.submit_download(lambda: files)
        assert future is not None and future.result(timeout=60) == 120
        again = prefetcher.submit_download(lambda: files)  # read already: nothing left
        assert again is not None and again.result(timeout=60) == 0

        def offline() -> list[Path]:
            raise OSError("no network")

        failed = prefetcher.submit_download(offline)
        assert failed is not None and failed.result(timeout=60) == 0
    assert prefetcher.submit_download(lambda: files) is None  # closed


def test_weight_names_pick_what_from_pretrained_reads() -> None:
    both = ["config.json", "pytorch_model.bin", "model.safetensors", "README.md"]
    assert weight_names(both) == ["model.safetensors"]
    assert weight_names(["config.json", "pytorch_model.bin"]) == ["pytorch_model.bin"]
    shards = ["model-00002-of-00002.safetensors", "model-00001-of-00002.safetensors"]
    assert weight_names(["model.safetensors.index.json", *shards, "pytorch_model.bin"]) == [
        "model.safetensors.index.json", *sorted(shards)]
    assert weight_names(["pytorch_model.bin.index.json", "pytorch_model-1.bin",
                         "sub/extra.bin"]) == ["pytorch_model.bin.index.json",
                                               "pytorch_model-1.bin"]
    assert weight_names(["config.json", "tf_model.h5"]) == []


def test_an_online_hub_series_downloads_the_weights_it_will_load(tmp_path,
                                                                 monkeypatch) -> None:
    import huggingface_hub

    from tracker.sources import HubSeries
    from tracker.sources.hf_cache import repo_folder

    requested: list[tuple[str, str, str]] = []

    def fake_download(repo_id, filename, *, revision, cache_dir):
        # Files it as huggingface_hub does: refs/<revision> -> snapshots/<commit>/<file>.
        repo = repo_folder(cache_dir, repo_id)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / revision).write_text("c0ffee")
        path = repo / "snapshots" / "c0ffee" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"{}" if filename.endswith(".json") else b"w" * 64)
        requested.append((repo_id, filename, revision))
        return str(path)

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files",
                        lambda self, repo_id, revision: ["config.json", "pytorch_model.bin",
                                                         "model.safetensors", "README.md"])
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    ckpt = Checkpoint(step=1000, revision="step1000", tokens=0)
    online = HubSeries("org/model", cache_dir=tmp_path)
    (path,) = online.download(ckpt)
    assert path == repo_folder(tmp_path, "org/model") / "snapshots/c0ffee/model.safetensors"
    assert requested == [("org/model", "config.json", "step1000"),
                         ("org/model", "model.safetensors", "step1000")]
    assert online.download(ckpt) == [path] and len(requested) == 2  # cached: no transfer
    offline = HubSeries("org/other", cache_dir=tmp_path, local_files_only=True)
    assert offline.download(ckpt) == [] and len(requested) == 2


def test_close_cancels_what_is_queued_and_the_thread_never_holds_up_an_exit(tmp_path) -> None:
    import threading

    files = _files(tmp_path, [10])
    started, release = threading.Event(), threading.Event()

    def slow_download() -> list[Path]:  # a transfer that cannot be interrupted
        started.set()
        release.wait(timeout=60)
        return files

    prefetcher = FilePrefetcher()
    running = prefetcher.submit_download(slow_download)
    queued = prefetcher.submit(files)
    assert running is not None and queued is not None
    assert started.wait(timeout=60)
    assert prefetcher._thread.daemon  # the interpreter does not wait for it at exit
    prefetcher.close()
    release.set()
    assert running.result(timeout=60) == 0  # closed: nothing is read after close
    prefetcher._thread.join(timeout=60)
    assert not prefetcher._thread.is_alive() and queued.cancelled()
