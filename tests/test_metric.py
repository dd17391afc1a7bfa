import h5py
import numpy as np
import pytest

from tracker.metric import Metric
from tracker.store import ProbeResult, SeriesStore, StepShard, consolidate, write_shard


def test_attrs_round_trip_every_field() -> None:
    metric = Metric(name="acc", kind="scalar", description="accuracy", higher_is_mechanism=False,
                    threshold=0.5, resolution=1 / 319, chance=0.25)
    back = Metric.from_attrs("acc", metric.attrs(), probe="p", key="v1-x", shape=())
    assert back == metric.stored("p", "v1-x", ())
    assert back.resolution == pytest.approx(1 / 319) and back.chance == 0.25


def test_files_written_before_the_new_fields_read_as_none() -> None:
    old = {"kind": "head", "description": "", "higher_is_mechanism": "", "threshold": np.nan}
    metric = Metric.from_attrs("score", old)
    assert (metric.resolution, metric.chance, metric.error_of, metric.higher_is_mechanism) == (
        None, None, "", None)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind 'matrix'"):
        Metric(name="m", kind="matrix")  # type: ignore[arg-type]


def test_vector_needs_its_declared_shape() -> None:
    assert Metric(name="v", kind="vector", shape=(3,)).value_shape(2, 4) == (3,)
    assert Metric(name="h", kind="head").value_shape(2, 4) == (2, 4)
    with pytest.raises(ValueError, match="shape"):
        Metric(name="v", kind="vector").value_shape(2, 4)


def test_standard_error_is_stored_beside_its_metric_and_kept_out_of_listings(tmp_path) -> None:
    path = tmp_path / "s.h5"
    score = Metric(name="score", kind="head", threshold=0.5)
    for step in (0, 1):
        shard = StepShard("s", 1, step, step, f"step{step}", f"h{step}")
        result = ProbeResult("p", 1, "{}", "0123456789abcdef")
        result.add(score, np.full((2, 3), step))
        result.add(score.standard_error(), np.full((2, 3), 0.1))
        shard.results[("p", result.key)] = result
        write_shard(path, shard)
    consolidate(path)
    store = SeriesStore(path)
    assert [m.name for m in store.metric_infos()] == ["score"]
    assert [m.name for m in store.metric_infos(errors=True)] == ["score", "score_se"]
    assert store.standard_error("p", "score") == pytest.approx(np.full((2, 2, 3), 0.1))
    assert store.standard_error("p", "nothing") is None
    with h5py.File(path) as f:
        assert f["results/p/v1-0123456789abcdef/score_se"].attrs["error_of"] == "score"
