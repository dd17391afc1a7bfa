"""The circuits benchmark on a tiny random model: the synthetic task and one smoke run."""

import json
from pathlib import Path

import pytest
import torch

from tests.support.scripts import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("bench_circuits")


def test_random_task_changes_a_few_positions_but_never_the_last(bench) -> None:
    task = bench.random_task(vocab=50, n=6, seq=10, n_changed=3, seed=1)
    assert task.clean.shape == task.corrupt.shape == (6, 10)
    changed = (task.clean != task.corrupt).sum(dim=1)
    assert bool((changed <= 3).all()) and int(changed.sum()) > 0
    assert bool((task.clean[:, -1] == task.corrupt[:, -1]).all())
    logits = torch.zeros(6, 10, 50)
    a, b = task.answers[0][0], task.wrongs[0][0]
    logits[0, -1, a], logits[0, -1, b] = 2.0, -1.0
    assert float(task.metric()(logits, torch.arange(6))[0]) == pytest.approx(3.0)


def test_smoke_run_skips_nothing_it_needs_and_writes_json(bench, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    rows = bench.main(["--smoke", "--n-examples", "4", "--seq", "6", "--repeats", "1",
                       "--out", str(out)])
    assert [r["model"] for r in rows] == ["random tiny"]
    row = json.loads(out.read_text())["rows"][0]
    # 2 layers x 4 heads, parallel: the graph's edge count; m = 2 in a smoke run.
    assert row["n_edges"] == 102 and row["ig_steps"] == 2 and row["ideal_ratio"] == 1.6
    assert row["eap_s"] > 0 and row["eap_ig_s"] > 0
    assert row["ratio"] == pytest.approx(row["eap_ig_s"] / row["eap_s"])


def test_a_missing_organism_is_skipped_with_a_note(bench, tmp_path: Path, capsys) -> None:
    import argparse

    from tracker.circuits import AttributionConfig

    args = argparse.Namespace(revisions=["step1"], cache=str(tmp_path), repo="nobody/none",
                              tasks=["ioi"], n_examples=4, repeats=1)
    assert bench.organism_rows(args, AttributionConfig()) == []
    assert "organism nobody/none@step1 skipped" in capsys.readouterr().out
