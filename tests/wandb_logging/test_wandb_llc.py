"""The LLC stages in W&B, read back from an offline run: the figure and the stage table."""

import json

import pandas as pd
import pytest

from tests.support.report_stores import LLC_PEAK, llc_store, store_events
from tracker.events.stages import store_stage_events
from tracker.store import SeriesStore
from tracker.wandb_logging import log_store, read_offline_run


def test_replay_logs_the_llc_per_step_and_the_stages_at_the_end(tmp_path):
    store = llc_store(tmp_path / "l.h5")
    store_events({store: pd.DataFrame([vars(e) for e in store_stage_events(SeriesStore(store))])})
    log_store(store, project="p", mode="offline", dir=tmp_path / "wb", heatmaps=False,
              artifact=False)
    (run_dir,) = sorted((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    rows = read_offline_run(run_dir, wait_s=30).history
    assert rows[0]["llc/llc"] == pytest.approx(5.0)
    last = rows[-1]
    assert last["llc/stages"]["_type"] == "image-file"
    table = last["llc/stage_table"]
    assert table["_type"] == "table-file"
    data = json.loads((run_dir / "files" / table["path"]).read_text())
    assert data["columns"] == ["step", "tokens", "shape", "llc_change", "nearest_other_event"]
    (row,) = data["data"]
    assert row[2] == "peak"
    assert float(row[0].replace(",", "")) == pytest.approx(LLC_PEAK, rel=0.2)
