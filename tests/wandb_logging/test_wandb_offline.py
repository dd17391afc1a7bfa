"""W&B logging checked for real: offline runs, read back from their ``.wandb`` files."""

import importlib
import json
import sys

import numpy as np
import pytest

from tests.support.builders import PYTHIA_REPO
from tests.support.report_stores import (
    STEPS,
    TOKENS_PER_STEP,
    icl_score,
    induction_scores,
    planted_events,
    planted_store,
    store_events,
)
from tracker.cli.main import main
from tracker.errors import TrackerError
from tracker.metric import Metric
from tracker.probes import make_probes
from tracker.runner import sweep
from tracker.sources import open_series
from tracker.wandb_logging import (
    WandbStepLogger,
    log_store,
    make_wandb_step_logger,
    read_offline_run,
)

SERIES = "EleutherAI/pythia-160m"


def _run_dir(root):
    found = sorted((root / "wandb").glob("offline-run-*"))
    assert len(found) == 1, found
    return found[0]


def _aggregates(row):
    return {k: v for k, v in row.items() if "/" in k and not k.startswith("heatmaps/")}


def test_log_wandb_replays_a_store_offline(tmp_path, monkeypatch, capsys):
    store = planted_store(tmp_path / "s.h5", SERIES, midpoint=1000)
    store_events({store: planted_events(SERIES, 1000)})
    code = main(["log-wandb", str(store), "--mode", "offline", "--dir", str(tmp_path / "wb"),
                 "--project", "proj"])
    out = capsys.readouterr().out
    assert code == 0 and f"{SERIES}: logged {len(STEPS)} steps" in out and "wandb sync" in out
    run_dir = _run_dir(tmp_path / "wb")
    run = read_offline_run(run_dir, wait_s=30)
    assert run.exit_code == 0
    assert run.run | {"id": None} == {"id": None, "project": "proj", "group": "pythia",
                                      "job_type": "replay", "display_name": SERIES,
                                      "tags": ["icl", "induction"]}
    probes = run.config["probes"]
    assert probes["induction"]["version"] == 1 and probes["induction"]["config"]["seq_len"] == 50
    assert probes["icl"] == {"version": 2, "key": "v2-fedcba9876543210",
                             "config": {"n_texts": 64}}
    assert run.config["tokens_per_step"] == TOKENS_PER_STEP

    rows = run.history
    assert [r["_step"] for r in rows] == STEPS  # W&B step = training step, in order
    assert [r["tokens"] for r in rows] == [s * TOKENS_PER_STEP for s in STEPS]
    for row, step in zip(rows, STEPS, strict=True):
        planted = induction_scores(step, 1000)
        assert row["induction/induction_score/max"] == pytest.approx(float(planted.max()))
        assert row["induction/induction_score/n_over_threshold"] == int((planted >= 0.4).sum())
        assert row["icl/icl_score"] == pytest.approx(icl_score(step, 1000))
        image = row["heatmaps/induction/induction_score"]
        assert image["_type"] == "image-file" and f"step {step:,}" in image["caption"]
        assert (run_dir / "files" / image["path"]).stat().st_size > 0
    assert [r["induction/induction_score/n_over_threshold"] for r in rows][-1] == 2

    table = rows[-1]["events"]
    assert table["_type"] == "table-file" and table["nrows"] == 3
    data = json.loads((run_dir / "files" / table["path"]).read_text())
    mid = data["columns"].index("midpoint_tokens")
    assert sorted(r[mid] for r in data["data"]) == [1000 * TOKENS_PER_STEP] * 2 + [
        4000 * TOKENS_PER_STEP]

    by_name = {m["name"] or m["glob_name"]: m for m in run.metrics}
    assert by_name["*"]["step_metric"] == "tokens"
    assert by_name["induction/induction_score/max"] == {
        "name": "induction/induction_score/max", "glob_name": "", "step_metric": "tokens",
        "summary": ["max"]}
    stores = [a for a in run.artifacts if a["type"] == "tracker-store"]
    assert stores == [{"name": "EleutherAI-pythia-160m-store", "type": "tracker-store",
                       "files": ["s.h5"]}]


def test_sweep_logger_keeps_order_across_a_resume_and_matches_replay(tmp_path, pythia_cache):
    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    probes = make_probes(["induction"])
    store = tmp_path / "s.h5"
    for steps, folder in (("first:2", "live1"), ("first:4", "live2")):
        on_step, finish = make_wandb_step_logger(series, store, project="p", mode="offline",
                                                 dir=tmp_path / folder, probes=probes)
        try:
            sweep(series, store, probes, steps=steps, progress=False, on_step=on_step)
        finally:
            finish()
    first = read_offline_run(_run_dir(tmp_path / "live1"), wait_s=30)
    resumed = read_offline_run(_run_dir(tmp_path / "live2"), wait_s=30)
    assert [r["_step"] for r in first.history] == [0, 1]
    # The resumed sweep replays stored steps 0 and 1 first, then computes 2 and 4.
    assert [r["_step"] for r in resumed.history] == [0, 1, 2, 4]
    assert resumed.run["job_type"] == "sweep" and resumed.run["group"] == "pythia-tiny"
    assert resumed.config["probes"]["induction"]["key"] == probes[0].key
    assert resumed.config["provenance"]["kind"] == "hub"
    for a, b in zip(first.history, resumed.history, strict=False):
        assert _aggregates(a) == _aggregates(b) != {}

    log_store(store, project="p", mode="offline", dir=tmp_path / "replay", heatmaps=False)
    replay = read_offline_run(_run_dir(tmp_path / "replay"), wait_s=30)
    assert [r["_step"] for r in replay.history] == [0, 1, 2, 4]
    for live, again in zip(resumed.history, replay.history, strict=True):
        assert _aggregates(live) == _aggregates(again)
        assert again["induction/induction_score/max"] < 0.4  # random tiny models


def test_step_logger_never_logs_backwards(tmp_path):
    logger = WandbStepLogger("org/m", None, project="p", mode="offline", dir=tmp_path,
                             heatmaps=False, artifact=False)
    logged = [logger.log_step(step, step * 10, [(Metric(probe="x", name="s", kind="scalar"),
                                                 np.float32(step))])
              for step in (0, 5, 3, 5, 7)]
    logger.finish()
    logger.finish()  # idempotent
    assert logged == [True, True, False, False, True] and logger.skipped_steps == [3, 5]
    run = read_offline_run(logger.run_dir, wait_s=30)
    assert [(r["_step"], r["x/s"], r["tokens"]) for r in run.history] == [
        (0, 0, 0), (5, 5, 50), (7, 7, 70)]
    # The reader checks every record's checksum rather than decoding garbage.
    data = bytearray(run.path.read_bytes())
    data[20] ^= 0xFF
    broken = tmp_path / "broken.wandb"
    broken.write_bytes(bytes(data))
    with pytest.raises(TrackerError, match="broken.wandb: corrupt record at byte 7"):
        read_offline_run(broken)


def test_disabled_mode_logs_nothing_and_succeeds(tmp_path, capsys):
    store = planted_store(tmp_path / "s.h5", SERIES, steps=[0, 1, 2])
    code = main(["log-wandb", str(store), "--mode", "disabled", "--dir", str(tmp_path / "wb"),
                 "--no-heatmaps"])
    assert code == 0 and "logged 3 steps" in capsys.readouterr().out
    assert not list((tmp_path / "wb").rglob("*.wandb"))


def test_missing_wandb_is_a_clear_error(tmp_path, monkeypatch, capsys):
    store = planted_store(tmp_path / "s.h5", SERIES, steps=[0, 1])
    monkeypatch.setitem(sys.modules, "wandb", None)  # what `import wandb` sees when absent
    code = main(["log-wandb", str(store), "--mode", "offline"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err == ("tracker: error: W&B logging needs the wandb package, which is not "
                   "installed: pip install 'tracker[wandb]'")
    with pytest.raises(TrackerError, match="needs the wandb package"):
        make_wandb_step_logger(_FakeSeries(), store)
    # Everything else still imports and works.
    for name in [m for m in sys.modules if m.startswith(
            ("tracker.report", "tracker.wandb_logging"))]:
        monkeypatch.delitem(sys.modules, name)
    assert callable(importlib.import_module("tracker.report").write_report)
    assert callable(importlib.import_module("tracker.wandb_logging").log_store)
    assert main(["show", str(store)]) == 0


class _FakeSeries:
    series_id = SERIES
    tokens_per_step = TOKENS_PER_STEP

    def describe(self):
        return {"kind": "fake"}


def test_sweep_cli_logs_to_wandb_as_it_goes(tmp_path, pythia_cache, isolated_wandb):
    code = main(["sweep", "EleutherAI/pythia-tiny", "--cache-dir", str(pythia_cache), "--store",
                 str(tmp_path / "s.h5"), "--probes", "induction", "--steps", "first:5",
                 "--no-progress", "--wandb", "--wandb-dir", str(tmp_path / "wb")])
    assert code == 0
    run = read_offline_run(_run_dir(tmp_path / "wb"), wait_s=10)
    steps = [row["train_step"] for row in run.history if "train_step" in row]
    assert steps == [0, 1, 2, 4, 8]
