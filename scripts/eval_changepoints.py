#!/usr/bin/env python
"""Score every registered change-point detector, with its defaults, on annotated real series.

Usage: ``python scripts/eval_changepoints.py [DATA_DIR] [--per-series] [--cv]``

``--cv`` checks the default detector's penalty settings without fitting them to these series:
leave-one-series-out cross-validation over a small grid of ``penalty_scale`` x ``min_level_z``
(each fold picks the setting with the best mean F1 + cover on the other 15 series and scores
it on the held-out one); it prints the held-out F1 and cover and the setting each fold chose.

DATA_DIR holds ``annotations.json`` and ``series/NAME.json`` in the Turing Change Point
Dataset layout (default: ``../shared/tcpd`` from the repository root). Scoring follows the
benchmark (F1 with margin 5 and covering, averaged over annotators; see
``tracker/detect/scoring.py``) and the no-change-point baseline is reported beside the
detectors.

Choices for data the detectors were not built for:
- the x axis is the observation index (these are plain, evenly sampled time series);
- a multivariate series is scored on its first dimension only (our detectors take one
  series, as a probe metric is one series; TCPD's annotations are per series, not per dim);
- ``null`` values become NaN, which ``Detector.detect`` drops and maps back, so predicted
  indices always refer to the full series.

The last line is ``mean F1 <x> cover <y>`` for ``DEFAULT_DETECTOR``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from tracker.detect.registry import DEFAULT_DETECTOR, detector_names, get_detector
from tracker.detect.scoring import covering, f_measure

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "tcpd"
BASELINE = "zero (no change points)"


def load_series(path: Path) -> tuple[np.ndarray, int]:
    """Return (first dimension as floats with NaN for null, n_obs) of one TCPD series file."""
    doc = json.loads(path.read_text())
    raw = doc["series"][0]["raw"]
    y = np.array([np.nan if v is None else float(v) for v in raw], dtype=float)
    return y, int(doc.get("n_obs", len(y)))


#: The grid searched by ``--cv``: (penalty_scale, min_level_z) of the default detector.
CV_GRID = tuple((scale, z) for scale in (2.0, 3.0, 5.0, 8.0, 12.0) for z in (3.0, 5.0, 8.0))


def cross_validate(series: dict[str, tuple[np.ndarray, int]],
                   annotations: dict[str, dict[str, list[int]]],
                   grid: tuple[tuple[float, float], ...] = CV_GRID,
                   ) -> tuple[float, float, list[tuple[str, tuple[float, float]]]]:
    """Leave-one-series-out cross-validation of the default detector's penalty settings.

    Returns:
        Held-out mean F1, held-out mean cover, and each fold's (held-out series, chosen
        (penalty_scale, min_level_z)).
    """
    names = sorted(series)
    scores = np.zeros((len(grid), len(names), 2))
    for g, (scale, z) in enumerate(grid):
        det = get_detector(DEFAULT_DETECTOR, penalty_scale=scale, min_level_z=z)
        for j, n in enumerate(names):
            y, n_obs = series[n]
            pred = [cp.index for cp in det.detect(y)]
            scores[g, j] = (f_measure(annotations[n], pred, n_obs, margin=5)[0],
                            covering(annotations[n], pred, n_obs))
    held, chosen = [], []
    for j, n in enumerate(names):
        train = np.delete(scores, j, axis=1).sum(axis=2).mean(axis=1)
        best = int(np.argmax(train))  # ties: the first (smallest penalty) in grid order
        held.append(scores[best, j])
        chosen.append((n, grid[best]))
    out = np.mean(held, axis=0)
    return float(out[0]), float(out[1]), chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--per-series", action="store_true", help="print every series' score")
    parser.add_argument("--cv", action="store_true",
                        help="leave-one-series-out CV of the default detector's penalty")
    args = parser.parse_args(argv)
    data: Path = args.data_dir
    ann_path = data / "annotations.json"
    if not ann_path.is_file():
        print(f"no annotations.json in {data}", file=sys.stderr)
        return 2
    annotations: dict[str, dict[str, list[int]]] = json.loads(ann_path.read_text())
    names = sorted(n for n in annotations if (data / "series" / f"{n}.json").is_file())
    missing = sorted(set(annotations) - set(names))
    if missing:
        print(f"skipping {len(missing)} annotated series without a file: {missing}")
    series = {n: load_series(data / "series" / f"{n}.json") for n in names}

    methods = [BASELINE, *detector_names()]
    results: dict[str, tuple[float, float, float]] = {}
    for method in methods:
        det = None if method == BASELINE else get_detector(method)
        f1s, covers = [], []
        start = time.perf_counter()
        for n in names:
            y, n_obs = series[n]
            pred = [] if det is None else [cp.index for cp in det.detect(y)]
            f1, _, _ = f_measure(annotations[n], pred, n_obs, margin=5)
            cov = covering(annotations[n], pred, n_obs)
            f1s.append(f1)
            covers.append(cov)
            if args.per_series:
                print(f"  {method:<24} {n:<22} F1 {f1:.3f} cover {cov:.3f} pred {pred}")
        results[method] = (float(np.mean(f1s)), float(np.mean(covers)), time.perf_counter() - start)

    print(f"{len(names)} series from {data}")
    print(f"{'detector':<26}{'mean F1':>9}{'mean cover':>12}{'seconds':>9}")
    for method in methods:
        f1, cov, secs = results[method]
        mark = "  (default)" if method == DEFAULT_DETECTOR else ""
        print(f"{method:<26}{f1:>9.3f}{cov:>12.3f}{secs:>9.1f}{mark}")
    if args.cv:
        cf1, ccov, chosen = cross_validate(series, annotations)
        picks: dict[tuple[float, float], int] = {}
        for _, setting in chosen:
            picks[setting] = picks.get(setting, 0) + 1
        print(f"leave-one-series-out CV of {DEFAULT_DETECTOR} over {len(CV_GRID)} "
              "(penalty_scale, min_level_z) settings; folds chose "
              + ", ".join(f"{k} x{v}" for k, v in sorted(picks.items())))
        print(f"held-out mean F1 {cf1:.3f} cover {ccov:.3f}")
    f1, cov, _ = results[DEFAULT_DETECTOR]
    print(f"mean F1 {f1:.3f} cover {cov:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
