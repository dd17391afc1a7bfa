"""The agreement script's arithmetic by hand, and one measurement on a tiny random model."""

import json

import numpy as np
import pytest

from tests.support.builders import tiny_model
from tests.support.scripts import load_script


@pytest.fixture(scope="module")
def agreement_script():
    return load_script("circuit_agreement")


def test_agreement_on_exacts_top_edges(agreement_script) -> None:
    exact = np.array([3.0, -2.0, 1.0, 0.5])
    approx = np.array([2.9, -1.0, 1.1, 5.0])
    got = agreement_script.agreement(exact, approx, top=3)
    # Top 3 by |exact|: edges 0, 1, 2. Signed ranks agree; absolute ranks (3, 2, 1) against
    # (3, 1, 2): 1 - 6 * 2 / (3 * 8) = 0.5. approx's own top 3 are edges 3, 0, 2: 2 of 3.
    assert got["rho"] == pytest.approx(1.0)
    assert got["rho_abs"] == pytest.approx(0.5)
    assert got["overlap"] == pytest.approx(2 / 3)


def test_plateau_is_where_more_steps_stop_changing_agreement(agreement_script) -> None:
    rows = [{"eap_ig": {"1": {"rho": 0.5}, "5": {"rho": 0.89}, "10": {"rho": 0.9},
                        "30": {"rho": 0.895}}},
            {"eap_ig": {"1": {"rho": 0.3}, "5": {"rho": 0.80}, "10": {"rho": 0.8},
                        "30": {"rho": 0.81}}}]
    m, means = agreement_script.plateau(rows, [1, 5, 10, 30], tol=0.01)
    assert means == pytest.approx({1: 0.4, 5: 0.845, 10: 0.85, 30: 0.8525})
    assert m == 5
    assert agreement_script.plateau(rows, [1, 5, 10, 30], tol=0.001)[0] == 30
    # Not the best m: agreement peaks at m = 2 and settles lower from m = 5 on.
    peak = [{"eap_ig": {"1": {"rho": 0.9}, "2": {"rho": 0.95}, "5": {"rho": 0.91},
                        "10": {"rho": 0.9}}}]
    assert agreement_script.plateau(peak, [1, 2, 5, 10], tol=0.015)[0] == 5


def test_measure_on_a_tiny_model(agreement_script, tmp_path, capsys) -> None:
    bench = load_script("bench_circuits")
    model = tiny_model(seed=0, scale=0.5)
    task = bench.random_task(vocab=64, n=6, seq=5, n_changed=2, seed=0)
    row = agreement_script.measure(model, task, [1, 4], batch_size=6, top=20)
    assert row["n_edges"] == 102 and row["n_examples"] == 6
    # m = 1 is EAP itself: one gradient at the clean end.
    for key in ("rho", "rho_abs", "overlap"):
        assert row["eap_ig"]["1"][key] == pytest.approx(row["eap"][key], abs=1e-6)
    assert -1.0 <= row["eap_ig"]["4"]["rho"] <= 1.0
    assert row["eap_ig"]["4"]["converged"]["rho"] == pytest.approx(1.0)
    assert row["eap_ig"]["1"]["converged"]["rho"] < 1.0
    assert row["exact_seconds"] > 0
    summ = agreement_script.summary([{"revision": "r", "task": "t", **row}], [1, 4], 0.01)
    assert summ["plateau_m_rho"] in (1, 4)
    assert list(summ["plateau_m_each"]) == ["r t"]
    assert summ["rows_passing"]["eap"] == summ["rows_passing"][1]
    assert summ["eap_mean_rho"] == pytest.approx(row["eap"]["rho"])
    text = agreement_script.table([{"revision": "r", "task": "t", **row}], [1, 4])
    assert text.splitlines()[2].startswith("| r | t | ")
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps({"repo": "tiny", "args": {"m": [1, 4], "n_examples": 6,
                                                          "top": 20},
                                 "results": [{"revision": "r", "task": "t", **row}]}))
    agreement_script.main(["--from-json", str(saved)])
    out = capsys.readouterr().out
    assert "tiny, 6 examples, top 20 edges" in out and "| r | t | " in out
