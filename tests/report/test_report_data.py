
import numpy as np
import pytest

from tests.support.report_stores import (
    SECOND_HEAD,
    STEPS,
    STRONG_HEAD,
    TOKENS_PER_STEP,
    induction_scores,
    planted_events,
    planted_store,
    store_events,
)
from tracker.errors import TrackerError
from tracker.events import EVENT_COLUMNS, read_events_for, read_store_events
from tracker.labels import default_group, format_tokens, model_size, order_series
from tracker.store import Metric, ProbeResult, SeriesStore, StepShard
from tracker.views.metrics import (
    log_spaced_indices,
    readings_from_shard,
    readings_from_store,
    step_aggregates,
)


def test_step_aggregates_orientations_thresholds_and_missing():
    heads = np.array([[0.1, 0.5], [0.45, np.nan]], dtype=np.float32)
    readings = [
        (Metric(probe="induction", name="induction_score", kind="head", threshold=0.4), heads),
        (Metric(probe="sinks", name="entropy", kind="head", higher_is_mechanism=False,
                threshold=0.3), np.array([[0.2, 0.9]])),
        (Metric(probe="icl", name="icl_score", kind="scalar", higher_is_mechanism=True),
         np.float32(0.25)),
        (Metric(probe="x", name="norms", kind="layer", higher_is_mechanism=None),
         np.array([1.0, 3.0])),
        (Metric(probe="x", name="gone", kind="head", higher_is_mechanism=True, threshold=0.4),
         np.full((2, 2), np.nan)),
        (Metric(probe="x", name="spectrum", kind="vector", higher_is_mechanism=None),
         np.array([1.0, 2.0, 6.0])),
    ]
    assert step_aggregates(readings) == {
        "induction/induction_score/max": pytest.approx(0.5),
        "induction/induction_score/n_over_threshold": 2.0,
        "sinks/entropy/min": pytest.approx(0.2),
        "sinks/entropy/n_under_threshold": 1.0,
        "icl/icl_score": 0.25,
        "x/norms/max": 3.0,
        "x/spectrum/mean": 3.0,
        "x/spectrum/max": 6.0,
    }


def test_store_and_shard_readings_aggregate_identically(tmp_path):
    store = SeriesStore(planted_store(tmp_path / "s.h5"))
    index = STEPS.index(16000)
    from_store = step_aggregates(readings_from_store(store, index))
    shard = StepShard("s", 1, 16000, 16000, "step16000", "h")
    for probe, key in store.variants():
        attrs = store.variant_attrs(probe, key)
        result = ProbeResult(probe, attrs["probe_version"], attrs["config_json"],
                             attrs["config_hash"])
        for info in store.metric_infos(probe):
            result.add(Metric(name=info.name, kind=info.kind, description="",
                              higher_is_mechanism=info.higher_is_mechanism,
                              threshold=info.threshold),
                       store.metric(probe, info.name)[index])
        shard.results[(probe, key)] = result
    assert step_aggregates(readings_from_shard(shard)) == from_store
    planted = induction_scores(16000, 1000)
    assert from_store["induction/induction_score/max"] == pytest.approx(float(planted.max()))
    assert from_store["induction/induction_score/n_over_threshold"] == (planted >= 0.4).sum() == 2
    assert planted[STRONG_HEAD] > 0.4 and planted[SECOND_HEAD] > 0.4


def test_log_spaced_indices_keep_init_first_and_last():
    tokens = np.array(STEPS) * TOKENS_PER_STEP
    picks = log_spaced_indices(tokens, 8)
    assert picks[0] == 0 and picks[-1] == len(STEPS) - 1
    assert picks == sorted(set(picks)) and 6 <= len(picks) <= 8
    gaps = np.diff(np.log10(tokens[picks[1:]]))
    assert gaps.max() < 3 * gaps.min()  # roughly even in log tokens
    assert log_spaced_indices([0, 5, 9], 8) == [0, 1, 2]


def test_names_sizes_and_tokens():
    assert [format_tokens(n) for n in (0, 512, 2_097_152, 3e11, 1.2e12)] == [
        "0", "512", "2.1M", "300B", "1.2T"]
    assert model_size("EleutherAI/pythia-1.4b-deduped") == 1.4e9
    assert model_size("org/model-final") is None
    ids = ["EleutherAI/pythia-1b", "EleutherAI/pythia-70m", "x/other", "EleutherAI/pythia-410m"]
    assert order_series(ids) == ["EleutherAI/pythia-70m", "EleutherAI/pythia-410m",
                                 "EleutherAI/pythia-1b", "x/other"]
    assert default_group(["EleutherAI/pythia-70m-deduped", "EleutherAI/pythia-1b-deduped"]) \
        == "pythia-deduped"


def test_find_metric_by_name_or_probe_name(tmp_path):
    store = SeriesStore(planted_store(tmp_path / "s.h5"))
    assert store.find_metric("induction_score").probe == "induction"
    assert store.find_metric("icl/icl_score").kind == "scalar"
    with pytest.raises(TrackerError, match=r"s.h5: no metric 'icl/induction_score'.*known:"):
        store.find_metric("icl/induction_score")


def test_default_metrics_skip_constant_ones(tmp_path):
    from tracker.report.figures import open_stores, select_metrics
    from tracker.store import consolidate, write_shard

    for step in (0, 1, 2):
        shard = StepShard("org/m", 1, step, step, f"step{step}", f"h{step}")
        result = ProbeResult("p", 1, "{}", "0123456789abcdef")
        result.add(Metric(name="n_prompts", kind="scalar", description="kept",
                          higher_is_mechanism=None),
                   np.float32(50))
        result.add(Metric(name="score", kind="head", description="", higher_is_mechanism=True,
                          threshold=0.5), np.full((1, 2),
                   step, np.float32))
        shard.results[("p", result.key)] = result
        write_shard(tmp_path / "s.h5", shard)
    consolidate(tmp_path / "s.h5")
    stores = open_stores([tmp_path / "s.h5"])
    assert select_metrics(stores, None) == ["p/score"]
    assert select_metrics(stores, ["n_prompts", "p/score"]) == ["p/n_prompts", "p/score"]


def test_events_absent_and_present(tmp_path):
    bare = planted_store(tmp_path / "bare.h5", "org/a-70m")
    frame = read_store_events(bare)
    assert list(frame.columns)[:len(EVENT_COLUMNS)] == list(EVENT_COLUMNS) and frame.empty

    with_events = planted_store(tmp_path / "ev.h5", "org/a-160m", midpoint=1000)
    store_events({with_events: planted_events("org/a-160m", 1000)})
    both = read_events_for([(bare, "org/a-70m"), (with_events, "org/a-160m")])
    assert len(both) == 3 and set(both["series"]) == {"org/a-160m"}
    strong = both[(both["layer"] == 1) & (both["head"] == 2)].iloc[0]
    assert strong["midpoint_tokens"] == 1000 * TOKENS_PER_STEP
    assert strong["kind"] == "emergence" and not strong["stale"]
    assert not read_store_events(with_events).empty
