"""Detection on any logged curve: plain arrays or a tidy CSV (a W&B export, a training log).

Both run :func:`tracker.events.core.find_in_series`, the code ``tracker detect`` runs on
stores, so the events and the definition are the same.

Tidy CSV columns: ``series, step, metric, value`` (required); ``tokens, layer, head, probe,
resolution, threshold, higher_is_better`` (optional). Without ``higher_is_better`` a metric
whose name says loss is unoriented (its steps are ``change`` events), any other is higher is
better. Without ``probe`` each metric is its own probe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from tracker.errors import TrackerError
from tracker.events.core import DetectOptions, SeriesSpec, find_in_series
from tracker.events.emergence import is_loss_like
from tracker.events.model import events_frame

REQUIRED = ("series", "step", "metric", "value")
NUMERIC = ("step", "value", "tokens", "layer", "head", "resolution", "threshold")


def detect_arrays(steps: Any, values: Mapping[str, Any], *, series: str = "series",
                  tokens_per_step: int = 1, thresholds: Mapping[str, float] | None = None,
                  higher_is_better: Mapping[str, bool | None] | None = None,
                  resolutions: Mapping[str, float] | None = None,
                  options: DetectOptions | None = None) -> Any:
    """Find events in curves given as arrays.

    Args:
        steps: Training steps, strictly increasing.
        values: Metric name -> values per step (NaN: missing).
        series: Series id of the events.
        tokens_per_step: Tokens per step.
        thresholds: Metric -> mechanism threshold.
        higher_is_better: Metric -> orientation (None: unoriented; default: losses
            unoriented, anything else True).
        resolutions: Metric -> quantum of a quantized metric.
        options: Detection options.

    Returns:
        Events as a DataFrame with the columns :func:`tracker.events.read_events` returns.
    """
    thresholds, resolutions = thresholds or {}, resolutions or {}
    orient = higher_is_better or {}
    steps = np.asarray(steps, float)
    specs = []
    for name, y in values.items():
        arr = np.asarray(y, float)
        if arr.shape != steps.shape:
            raise TrackerError(f"metric {name!r}: {arr.shape[0] if arr.ndim else 0} values "
                               f"for {len(steps)} steps")
        up = orient[name] if name in orient else (None if is_loss_like(name) else True)
        specs.append(SeriesSpec(name, name, arr, threshold=thresholds.get(name),
                                higher_is_mechanism=up, resolution=resolutions.get(name)))
    return events_frame(find_in_series(series, steps, specs, tokens_per_step, options))


def _bool(value: Any, path: str) -> bool | None:
    text = str(value).strip().lower()
    if text in ("", "nan", "none"):
        return None
    if text in ("1", "true", "yes", "1.0"):
        return True
    if text in ("0", "false", "no", "0.0"):
        return False
    raise TrackerError(f"{path}: field 'higher_is_better' has {value!r}; use true or false")


def _optional(rows: Any, column: str) -> float | None:
    if column not in rows:
        return None
    v = rows[column].dropna()
    return float(v.iloc[0]) if len(v) else None


def read_tidy(path: str | os.PathLike[str]) -> Any:
    """Read and check a tidy CSV; errors name the file and the field."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise TrackerError(f"{path}: cannot read CSV ({exc})") from exc
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise TrackerError(f"{path}: missing column {missing[0]!r} (need "
                           f"{', '.join(REQUIRED)})")
    for column in NUMERIC:
        if column in frame.columns:
            num = pd.to_numeric(frame[column], errors="coerce")
            bad = num.isna() & frame[column].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise TrackerError(f"{path}: field {column!r} is not a number in row {row + 2}: "
                                   f"{frame[column].iloc[row]!r}")
            frame[column] = num
    if frame["step"].isna().any() or (frame["step"] < 0).any():
        raise TrackerError(f"{path}: field 'step' must be a number >= 0 in every row")
    frame["series"] = frame["series"].astype(str)
    frame["metric"] = frame["metric"].astype(str)
    return frame


def detect_csv(path: str | os.PathLike[str], options: DetectOptions | None = None) -> Any:
    """Find events in every series of a tidy CSV (one frame, ``read_events`` columns)."""
    import pandas as pd

    frame = read_tidy(path)
    out = []
    for series, rows in frame.groupby("series", sort=False):
        steps = np.unique(rows["step"].to_numpy(float))
        per_step = 1
        if "tokens" in rows and rows["tokens"].notna().any():
            pos = rows[(rows["step"] > 0) & rows["tokens"].notna()]
            if len(pos):
                per_step = max(int(round(float(np.median(pos["tokens"] / pos["step"])))), 1)
        keys = [c for c in ("metric", "layer", "head") if c in rows]
        specs = []
        for key, part in rows.groupby(keys, sort=False):
            key = key if isinstance(key, tuple) else (key,)
            metric = str(key[0])
            layer = int(key[1]) if len(key) > 1 and np.isfinite(key[1]) else -1
            head = int(key[2]) if len(key) > 2 and np.isfinite(key[2]) else -1
            if part["step"].duplicated().any():
                raise TrackerError(f"{path}: field 'step' repeats for series {series!r} "
                                   f"metric {metric!r}")
            y = np.full(len(steps), np.nan)
            y[np.searchsorted(steps, part["step"].to_numpy(float))] = part["value"].to_numpy()
            up = (_bool(part["higher_is_better"].iloc[0], str(path))
                  if "higher_is_better" in part else None)
            if up is None and not is_loss_like(metric):
                up = True
            probe = str(part["probe"].iloc[0]) if "probe" in part else metric
            specs.append(SeriesSpec(probe, metric, y, layer, head,
                                    threshold=_optional(part, "threshold"),
                                    higher_is_mechanism=up,
                                    resolution=_optional(part, "resolution")))
        out.append(events_frame(find_in_series(str(series), steps, specs, per_step, options)))
    return pd.concat(out, ignore_index=True) if out else events_frame([])
