"""The token-cluster benchmark on a tiny random model: one smoke run, and a missing organism."""

import argparse
import json
from pathlib import Path

import pytest

from tests.support.scripts import load_script


@pytest.fixture(scope="module")
def bench():
    load_script("bench_common")  # the script imports it from its own folder
    return load_script("bench_clusters")


def test_smoke_run_times_forward_and_probe_side_by_side(bench, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    rows = bench.main(["--smoke", "--repeats", "1", "--out", str(out)])
    assert [r["model"] for r in rows] == ["random tiny"]
    row = json.loads(out.read_text())["rows"][0]
    assert (row["n_layers"], row["prompts"], row["tokens"]) == (2, 3, 17)  # BOS + 16
    assert 0 < row["forward_s"] < row["probe_s"]
    assert row["added_s"] == pytest.approx(row["probe_s"] - row["forward_s"])


def test_a_missing_organism_is_skipped_with_a_note(bench, tmp_path: Path, capsys) -> None:
    from tracker.probes.clusters import ClustersConfig

    args = argparse.Namespace(repos=["nobody/none"], cache=str(tmp_path),
                              deep_cache=str(tmp_path), revision="step1", dataset="", repeats=1)
    assert bench.organism_rows(args, ClustersConfig()) == []
    assert "organism nobody/none@step1 skipped" in capsys.readouterr().out
