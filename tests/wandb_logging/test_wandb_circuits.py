"""Circuits in W&B, read back from offline runs: live per-step similarity, end-of-run tables."""

import json

import numpy as np
import pytest

from tests.support.report_stores import (
    CIRCUIT_SERIES,
    CIRCUIT_STEPS,
    circuit_shards,
    circuit_store,
)
from tracker.store import SeriesStore
from tracker.views.circuits import task_similarity
from tracker.wandb_logging import WandbStepLogger, log_store, read_offline_run


def _run_dir(root):
    found = sorted((root / "wandb").glob("offline-run-*"))
    assert len(found) == 1, found
    return found[0]


def _table(run_dir, cell):
    assert cell["_type"] == "table-file"
    return json.loads((run_dir / "files" / cell["path"]).read_text())


def _per_step(row):
    return {k: v for k, v in row.items()
            if "/" in k and not k.startswith(("circuits/ioi/", "circuits/role_swaps"))}


@pytest.fixture
def store(tmp_path):
    return circuit_store(tmp_path / "c.h5")


def test_replay_logs_similarity_per_step_and_circuits_at_the_end(store, tmp_path):
    log_store(store, project="p", mode="offline", dir=tmp_path / "wb", heatmaps=False,
              artifact=False)
    run_dir = _run_dir(tmp_path / "wb")
    run = read_offline_run(run_dir, wait_s=30)
    rows = run.history
    assert [r["_step"] for r in rows] == CIRCUIT_STEPS
    assert not [k for r in rows for k in r if "edge_scores" in k or "in_circuit" in k]
    # Scalars are gaps where there is no circuit, values where there is one.
    assert [r.get("circuits/circuit_ioi_size") for r in rows] == [None] * 2 + [4] * 6
    curves = task_similarity(SeriesStore(store), "ioi")
    for name in ("jaccard_previous", "weighted_previous", "node_previous"):
        logged = [r.get(f"circuits/circuit_ioi_{name}", np.nan) for r in rows]
        assert logged == pytest.approx(getattr(curves, name).tolist(), nan_ok=True)
    assert rows[4]["circuits/circuit_ioi_jaccard_previous"] == pytest.approx(1 / 3)

    last = rows[-1]
    table = _table(run_dir, last["circuits/ioi/over_training"])
    final = [r[table["columns"].index("jaccard_final")] for r in table["data"]]
    assert final == pytest.approx([None, None, 1 / 3, 1 / 3, 1, 1, 1, 1])
    assert [r[table["columns"].index("size")] for r in table["data"]] == [None] * 2 + [4] * 6
    roles = _table(run_dir, last["circuits/ioi/roles"])
    assert roles["columns"][:2] == ["role", "from_step"]
    assert ["name_mover", 160, 160000, 640, 640000, 3, "L1H1"] in roles["data"]
    assert ["s_inhibition", 0, 0, 640, 640000, 8, ""] in roles["data"]
    swaps = _table(run_dir, last["circuits/role_swaps"])
    assert swaps["data"] == [["ioi", "name_mover", 160, 160000, "L1H0", "L1H1"]]
    drawings = last["circuits/ioi/drawings"]
    assert drawings["_type"] == "images/separated" and drawings["count"] == 4
    assert "circuits/ioi/similarity_to_final_table" in last  # the line chart's data


def test_live_sweep_logs_what_a_replay_logs(store, tmp_path):
    logger = WandbStepLogger(CIRCUIT_SERIES, store, project="p", job_type="sweep",
                             mode="offline", dir=tmp_path / "live", heatmaps=False,
                             artifact=False)
    with logger:
        for shard in circuit_shards():
            logger.on_step(None, shard)
    assert logger.circuits.graph is not None  # read from the shard's static arrays
    live = read_offline_run(_run_dir(tmp_path / "live"), wait_s=30)
    log_store(store, project="p", mode="offline", dir=tmp_path / "replay", heatmaps=False,
              artifact=False)
    replay = read_offline_run(_run_dir(tmp_path / "replay"), wait_s=30)
    assert [_per_step(r) for r in live.history] == [_per_step(r) for r in replay.history]
    assert "circuits/circuit_ioi_node_previous" in live.history[-1]
    assert live.history[-1]["circuits/ioi/drawings"]["count"] == 4
