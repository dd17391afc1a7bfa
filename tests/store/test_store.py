import h5py
import numpy as np
import pytest

from tracker.errors import StoreError
from tracker.store import (
    Metric,
    ProbeResult,
    SeriesStore,
    StepShard,
    consolidate,
    list_shards,
    read_shard,
    shard_path,
    write_shard,
)
from tracker.store.layout import SCHEMA_VERSION
from tracker.store.validate import validate_file

HASH_A = "0123456789abcdef"
HASH_B = "fedcba9876543210"


def _shard(step, probes=(("induction", HASH_A),), weights="w"):
    shard = StepShard("org/model", 1000, step, step * 1000, f"step{step}", f"{weights}{step}")
    for probe, h in probes:
        result = ProbeResult(probe, 1, '{"seed":0}', h)
        result.add(Metric(name="score", kind="head", description="a score",
                          higher_is_mechanism=True, threshold=0.4), np.full((2, 3),
                   step, dtype=np.float32))
        result.add(Metric(name="loss", kind="scalar", description="a loss",
                          higher_is_mechanism=False),
                   np.float32(step / 10))
        shard.results[(probe, result.key)] = result
    return shard


def test_shard_roundtrip(tmp_path):
    store = tmp_path / "s.h5"
    write_shard(store, _shard(4))
    back = read_shard(list_shards(store)[0])
    assert back.step == 4 and back.tokens == 4000 and back.checkpoint_hash == "w4"
    result = back.results[("induction", f"v1-{HASH_A}")]
    assert result.values["score"].shape == (2, 3) and result.metrics["score"].kind == "head"
    assert result.metrics["score"].threshold == pytest.approx(0.4)
    assert result.metrics["loss"].higher_is_mechanism is False
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "s.h5.shards").iterdir())


def test_consolidated_file_aligns_steps_and_marks_missing_with_nan(tmp_path):
    store = tmp_path / "s.h5"
    write_shard(store, _shard(0, probes=(("induction", HASH_A), ("sinks", HASH_B))))
    write_shard(store, _shard(8))
    write_shard(store, _shard(2))
    consolidate(store, {"kind": "hub"})
    view = SeriesStore(store)
    assert view.steps.tolist() == [0, 2, 8]
    assert view.tokens.tolist() == [0, 2000, 8000]
    score = view.metric("induction", "score")
    assert score.shape == (3, 2, 3) and score.dtype == np.float32
    assert score[:, 0, 0].tolist() == [0.0, 2.0, 8.0]
    sinks = view.metric("sinks", "score")
    assert sinks[0, 0, 0] == 0.0 and np.isnan(sinks[1:]).all()
    assert view.variant_attrs("sinks")["present"].tolist() == [True, False, False]
    assert view.provenance == {"kind": "hub"}
    with h5py.File(store) as f:
        dset = f[f"results/induction/v1-{HASH_A}/score"]
        assert dset.compression == "gzip" and dset.shuffle
        assert f.attrs["schema_version"] == SCHEMA_VERSION
    assert validate_file(store) == []


def test_consolidation_keeps_events_and_provenance(tmp_path):
    store = tmp_path / "s.h5"
    write_shard(store, _shard(0))
    consolidate(store, {"kind": "hub", "repo": "x"})
    with h5py.File(store, "a") as f:
        f.create_group("events").attrs["n"] = 3
    write_shard(store, _shard(1))
    consolidate(store)
    with h5py.File(store) as f:
        assert f["events"].attrs["n"] == 3
    view = SeriesStore(store)
    assert view.steps.tolist() == [0, 1]
    assert view.provenance["repo"] == "x"


def test_repeated_weights_are_what_the_sweep_recorded(tmp_path):
    store = tmp_path / "s.h5"
    for step in (0, 1, 2):
        shard = _shard(step)
        shard.checkpoint_hash = "same" if step else "first"
        shard.repeats_step = 1 if step == 2 else -1  # the sweep found step 2 repeats step 1
        write_shard(store, shard)
    assert read_shard(shard_path(store, 2)).repeats_step == 1
    consolidate(store)
    assert SeriesStore(store).repeated_weights.tolist() == [False, False, True]


def test_newer_schema_is_refused_and_not_touched(tmp_path):
    store = tmp_path / "s.h5"
    write_shard(store, _shard(0))
    consolidate(store)
    with h5py.File(store, "a") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION + 1
    before = store.read_bytes()
    with pytest.raises(StoreError, match="newer than this tracker"):
        SeriesStore(store)
    write_shard(store, _shard(1))
    with pytest.raises(StoreError, match="newer than this tracker"):
        consolidate(store)
    assert store.read_bytes() == before
    assert validate_file(store)[0].startswith("/: schema_version")


def test_validate_reports_each_violation_by_path(tmp_path):
    store = tmp_path / "s.h5"
    write_shard(store, _shard(0))
    write_shard(store, _shard(1))
    consolidate(store)
    with h5py.File(store, "a") as f:
        del f.attrs["series_id"]
        del f["checkpoints/tokens"]
        variant = f[f"results/induction/v1-{HASH_A}"]
        variant.attrs["config_hash"] = "nothex"
        variant.create_dataset("bad", data=np.zeros((5, 2), dtype=np.float64))
        variant["bad"].attrs["kind"] = "head"
    problems = validate_file(store)
    text = "\n".join(problems)
    assert "/@series_id" not in text  # a missing attr is reported on its parent
    assert any(p.startswith("/:") and "'series_id' is a required property" in p for p in problems)
    assert any(p.startswith("/checkpoints:") and "'tokens'" in p for p in problems)
    assert any(f"/results/induction/v1-{HASH_A}@config_hash" in p for p in problems)
    assert any(p.startswith(f"/results/induction/v1-{HASH_A}/bad") for p in problems)
    assert any("first axis [5] != 2 steps" in p for p in problems)


def test_unreadable_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(StoreError, match="junk.h5: unreadable"):
        SeriesStore(junk)
    with pytest.raises(StoreError, match="no such store"):
        SeriesStore(tmp_path / "absent.h5")
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = 1
    with pytest.raises(StoreError, match="not a tracker store"):
        SeriesStore(plain)


def test_schema_1_stores_without_events_still_read(tmp_path):
    from tracker.events import read_events

    store = tmp_path / "old.h5"
    write_shard(store, _shard(0))
    write_shard(store, _shard(1))
    consolidate(store)
    with h5py.File(store, "a") as f:
        f.attrs["schema_version"] = 1
    view = SeriesStore(store)
    assert view.steps.tolist() == [0, 1]
    assert read_events(store).empty
    assert validate_file(store) == []


def test_static_constants_are_stored_once_per_variant_and_read_back(tmp_path):
    """Schema 3: a variant's ``static`` group (a circuit probe's edge names) survives shards
    and consolidation; a schema-2 file without one still reads and validates."""
    store = tmp_path / "s.h5"
    edges = np.array(["input->L0H0.q", "L0H0->logits"])
    for step in (0, 4):
        shard = _shard(step)
        shard.results[("induction", f"v1-{HASH_A}")].static = {
            "edge_names": edges, "layers": np.array([-1, 0])}
        write_shard(store, shard)
    back = read_shard(list_shards(store)[1]).results[("induction", f"v1-{HASH_A}")]
    assert back.static["edge_names"].tolist() == edges.tolist()
    assert set(back.values) == {"score", "loss"}
    consolidate(store)
    view = SeriesStore(store)
    assert view.static("induction", "edge_names").tolist() == edges.tolist()
    assert view.static("induction", "layers").tolist() == [-1, 0]
    assert {m.name for m in view.metric_infos("induction")} == {"score", "loss"}
    with pytest.raises(KeyError, match="stores no constant 'nodes'"):
        view.static("induction", "nodes")
    assert validate_file(store) == []
    with h5py.File(store, "a") as f:
        f.attrs["schema_version"] = 2
        del f[f"results/induction/v1-{HASH_A}/static"]
    assert SeriesStore(store).metric("induction", "score").shape == (2, 2, 3)
    assert validate_file(store) == []
