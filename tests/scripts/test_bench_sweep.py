"""The sweep benchmark's cheap parts: detection and timeline timings, and the table."""

import pytest

from tests.support.scripts import load_script


@pytest.fixture(scope="module")
def bench():
    load_script("bench_baselines")  # the script imports it from its own folder
    return load_script("bench_sweep")


def test_detection_timing_finds_the_planted_rises(bench) -> None:
    out = bench.bench_detection(40, 154)
    assert out["series"] == 40 and out["points"] == 154 and out["detector"] == "pelt"
    assert out["with_change_points"] == 40  # every series has a rise of 1 in noise 0.03
    assert 0 < out["seconds"] < 60


def test_timeline_query_over_a_planted_store(bench) -> None:
    out = bench.bench_timeline(30)
    assert out["checkpoints"] == 30
    assert out["mechanisms"] >= 1  # the planted rise of 15 heads is found
    assert out["detect_seconds"] > 0 and out["timeline_seconds"] > 0


def test_table_reports_ratios_agreement_and_stages(bench) -> None:
    result = {"series": "s", "steps": [0, 1], "weights_gb": 0.1,
              "seconds_per_checkpoint": {"tracker": 2.0, "floor": 1.0, "transformer_lens": 8.0},
              "peak_gb": {"tracker": 0.2}, "tracker_over_floor": 2.0, "tl_over_tracker": 4.0,
              "serial_reads_over_floor": 2.25, "warm_tracker_over_floor": 1.75,
              "agreement": {"ok": True, "max_abs_diff": {"induction_score": 1e-6}},
              "stages": {"load": 0.5, "forward": 1.0}, "peak_target_gb": 0.3,
              "needed_activations_gb": 0.15}
    text = bench._table(result)
    assert "tracker / floor 2.00" in text and "transformer_lens / tracker 4.00" in text
    assert "in series with compute: 2.25" in text and "compute alone: 1.75" in text
    assert "agree within 0.001: True" in text and "forward" in text
    assert "peak target 0.30 GB" in text and "0.15 GB of patterns and streams" in text


def test_table_reports_the_hooked_transformer_loop(bench) -> None:
    result = {"series": "s", "steps": [0, 1], "weights_gb": 0.1,
              "seconds_per_checkpoint": {"tracker": 2.0, "floor": 1.0, "tl_hooked": 30.0},
              "peak_gb": {}, "tracker_over_floor": 2.0, "hooked_over_tracker": 15.0,
              "serial_reads_over_floor": 2.0, "warm_tracker_over_floor": 2.0,
              "hooked_agreement": bench._agreement({"sink_score": [0.5, 0.25]},
                                                   {"sink_score": [0.5, 0.2495]}, ["sink_score"])
              | {"copying_eigen_diff_processed": 0.31},
              "stages": {}, "peak_target_gb": 0.3, "needed_activations_gb": 0.15}
    assert result["hooked_agreement"]["ok"]
    assert abs(result["hooked_agreement"]["max_abs_diff"]["sink_score"] - 5e-4) < 1e-12
    text = bench._table(result)
    assert "tl_hooked / tracker 15.00" in text and "differs by up to 0.31" in text
    assert not bench._agreement({"m": [1.0]}, {"m": [1.01]}, ["m"])["ok"]


def test_bench_cache_points_main_at_its_last_step(tmp_path) -> None:
    baselines = load_script("bench_baselines")
    from tracker.sources.hf_cache import list_cached_refs

    baselines.pythia_shaped_cache(tmp_path, [0, 1000], baselines.TINY)
    refs = list_cached_refs(tmp_path, baselines.PYTHIA_REPO)
    assert refs["main"] == refs["step1000"] != refs["step0"]


def test_every_mode_starts_with_the_series_out_of_the_page_cache(bench, tmp_path) -> None:
    spec = {"cache": str(tmp_path), "repo": "org/model"}
    blobs = tmp_path / "models--org--model" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / "abc").write_bytes(b"x" * 8192)
    (tmp_path / "models--org--model" / "snapshots" / "c1").mkdir(parents=True)
    (tmp_path / "models--org--model" / "snapshots" / "c1" / "model.safetensors").symlink_to(
        blobs / "abc")
    assert bench._evict_from_page_cache(spec) == 1  # the blob, not the link to it


def test_a_warm_mode_finds_the_series_in_the_page_cache(bench, tmp_path) -> None:
    spec = {"cache": str(tmp_path), "repo": "org/model"}
    blobs = tmp_path / "models--org--model" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / "abc").write_bytes(b"x" * 8192)
    (tmp_path / "models--org--model" / "refs").mkdir()
    (tmp_path / "models--org--model" / "refs" / "main").write_text("c1")
    assert bench._read_into_page_cache(spec) == 8194
