"""scripts/eval_changepoints.py on a tiny data set in the TCPD layout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from tests.support.scripts import load_script
from tracker.detect import DEFAULT_DETECTOR, detector_names


def _load_script():
    return load_script("eval_changepoints")


def _write(data: Path) -> None:
    rng = np.random.default_rng(51)
    (data / "series").mkdir(parents=True)
    shift = np.r_[np.zeros(60), 3 * np.ones(60)] + rng.normal(0, 0.3, 120)
    raw = [None if i in (10, 61) else float(v) for i, v in enumerate(shift)]
    second = rng.normal(0, 1, 120).tolist()
    docs = {
        # Two dimensions with gaps: scored on the first one.
        "shift": {
            "n_obs": 120,
            "n_dim": 2,
            "time": {"index": list(range(120))},
            "series": [{"raw": raw}, {"raw": second}],
        },
        "quiet": {
            "n_obs": 80,
            "n_dim": 1,
            "time": {"index": list(range(80))},
            "series": [{"raw": rng.normal(0, 1, 80).tolist()}],
        },
    }
    for name, doc in docs.items():
        (data / "series" / f"{name}.json").write_text(json.dumps(doc))
    ann = {"shift": {"1": [60], "2": [59]}, "quiet": {"1": [], "2": []}}
    (data / "annotations.json").write_text(json.dumps(ann))


def test_eval_script_scores_every_detector(tmp_path, capsys):
    _write(tmp_path)
    assert _load_script().main([str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    table = "\n".join(out)
    for name in ["zero (no change points)", *detector_names()]:
        assert re.search(rf"^{re.escape(name)}\s+\d\.\d{{3}}\s+\d\.\d{{3}}", table, re.M), name
    # The baseline: quiet scores 1/1, shift scores F1 2/3 (P = 1, R = 1/2) and cover 0.5.
    assert re.search(r"^zero \(no change points\)\s+0\.833\s+0\.750", table, re.M)
    last = out[-1]
    assert re.fullmatch(r"mean F1 \d\.\d{3} cover \d\.\d{3}", last)
    f1, cover = (float(v) for v in re.findall(r"\d\.\d{3}", last))
    # The default finds the shift at 60 in the gappy first dimension and stays quiet on the
    # other series. Cover: annotator "2" says 59, so shift scores
    # (1 + (59 * 59/60 + 61 * 60/61) / 120) / 2 = 0.99174, and the mean with quiet's 1.0 is
    # 0.996.
    assert (f1, cover) == (1.0, 0.996), (DEFAULT_DETECTOR, table)


def test_eval_script_reports_missing_data(tmp_path, capsys):
    assert _load_script().main([str(tmp_path)]) == 2
    assert "annotations.json" in capsys.readouterr().err


def test_cross_validation_scores_held_out_series(tmp_path, capsys):
    _write(tmp_path)
    mod = _load_script()
    series = {n: mod.load_series(tmp_path / "series" / f"{n}.json") for n in ("quiet", "shift")}
    ann = json.loads((tmp_path / "annotations.json").read_text())
    # A grid whose first setting detects nothing: each fold's training series decides.
    grid = ((1e9, 5.0), (5.0, 5.0))
    f1, cover, chosen = mod.cross_validate(series, ann, grid)
    # Holding out quiet, shift picks (5, 5) (finds 60); holding out shift, quiet ties and
    # the first setting (nothing found) is chosen, so shift scores the baseline's 2/3, 0.5.
    assert chosen == [("quiet", (5.0, 5.0)), ("shift", (1e9, 5.0))]
    assert (round(f1, 3), round(cover, 3)) == (round((1 + 2 / 3) / 2, 3), 0.75)
    assert mod.main([str(tmp_path), "--cv"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^held-out mean F1 \d\.\d{3} cover \d\.\d{3}$", out, re.M)
