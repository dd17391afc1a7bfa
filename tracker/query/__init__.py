"""Questions about stored results, answered as tidy pandas DataFrames for notebooks and the CLI.

- :func:`heads_at_step`: which heads are <kind> at step S?
- :func:`when_became`: when did head LxHy become <kind>?
- :func:`changes_between`: what changed between steps A and B?

A kind is any name :meth:`SeriesStore.find_metric` accepts (``induction`` finds
``induction_score``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tracker.errors import TrackerError
from tracker.labels import HeadId
from tracker.store import Metric, SeriesStore

if TYPE_CHECKING:
    import pandas as pd


def _step_index(store: SeriesStore, step: int) -> int:
    hits = np.flatnonzero(store.steps == step)
    if not len(hits):
        raise TrackerError(f"{store.path}: step {step} is not stored (steps "
                           f"{store.steps[0]}..{store.steps[-1]}, {len(store.steps)} in all)")
    return int(hits[0])


def _threshold(info: Metric, threshold: float | None) -> float:
    value = threshold if threshold is not None else info.threshold
    if value is None:
        raise TrackerError(f"metric {info.name!r} has no threshold in its probe config; "
                           "pass one")
    return float(value)


def heads_at_step(store: SeriesStore, kind: str, step: int,
                  threshold: float | None = None) -> pd.DataFrame:
    """Heads whose ``kind`` score is at or above the threshold at ``step``.

    Args:
        store: Series store.
        kind: Metric or kind (``induction``, ``prev_token``, ``successor``...).
        step: A stored step.
        threshold: Override the probe config's threshold.

    Returns:
        DataFrame (series, step, tokens, metric, layer, head, score), highest score first.
    """
    import pandas as pd

    info = store.find_metric(kind)
    i = _step_index(store, step)
    thr = _threshold(info, threshold)
    scores = store.metric(info.probe, info.name)[i]
    layers, heads = np.nonzero(scores >= thr)
    frame = pd.DataFrame({
        "series": store.series_id, "step": int(store.steps[i]), "tokens": int(store.tokens[i]),
        "metric": info.name, "layer": layers.astype(int), "head": heads.astype(int),
        "score": scores[layers, heads].astype(float),
    })
    return frame.sort_values("score", ascending=False).reset_index(drop=True)


def when_became(store: SeriesStore, kind: str, head: str | tuple[int, int] | HeadId,
                threshold: float | None = None, sustain: int = 2) -> pd.DataFrame:
    """Tell when a head became ``kind``.

    That is the first step from which its score stays at or above the threshold for
    ``sustain`` checkpoints, shown beside any stored emergence event of that head. ``head``
    is a label as the report and CLI print it (``L1H3``), a :class:`HeadId` or a
    ``(layer, head)`` pair.

    Returns:
        One-row DataFrame (series, metric, head, threshold, first_step, first_tokens,
        event_onset_step, event_midpoint_step, event_end_step, event_onset_tokens,
        event_detector, final_score); steps are NaN when it never did.
    """
    import pandas as pd

    from tracker.events import read_events

    if isinstance(head, str):
        hid = HeadId.parse(head)
    else:
        hid = head if isinstance(head, HeadId) else HeadId(*head)
    layer, idx = hid.layer, hid.head
    info = store.find_metric(kind)
    values = store.metric(info.probe, info.name)
    if not (0 <= layer < values.shape[1] and 0 <= idx < values.shape[2]):
        raise TrackerError(f"head {hid} is outside the model "
                           f"({values.shape[1]} layers, {values.shape[2]} heads)")
    y = values[:, layer, idx]
    thr = _threshold(info, threshold)
    above = np.nan_to_num(y, nan=-np.inf) >= thr
    # A slice shorter than ``sustain`` at the end of the series needs all its points above.
    first = next((i for i in range(len(y)) if above[i: i + sustain].all()), None)
    finite = y[np.isfinite(y)]
    row = {"series": store.series_id, "metric": info.name, "head": hid.label,
           "threshold": thr,
           "first_step": np.nan if first is None else float(store.steps[first]),
           "first_tokens": np.nan if first is None else float(store.tokens[first]),
           "final_score": float(finite[-1]) if len(finite) else np.nan}
    events = read_events(store.path)
    mine = events[(events["kind"] == "emergence") & (events["metric"] == info.name)
                  & (events["layer"] == layer) & (events["head"] == idx)]
    first_event = mine.sort_values("onset_step").head(1)
    for col in ("onset_step", "midpoint_step", "end_step", "onset_tokens"):
        row[f"event_{col}"] = float(first_event[col].iloc[0]) if len(first_event) else np.nan
    row["event_detector"] = str(first_event["detector"].iloc[0]) if len(first_event) else ""
    return pd.DataFrame([row])


def changes_between(store: SeriesStore, step_a: int, step_b: int,
                    min_change: float = 0.1) -> pd.DataFrame:
    """List what changed between two stored steps.

    Every metric value (per head for head metrics) whose absolute change is at least
    ``min_change``, largest first.

    Returns:
        DataFrame (probe, metric, layer, head, before, after, change, crossed_threshold).
    """
    import pandas as pd

    i, j = _step_index(store, step_a), _step_index(store, step_b)
    rows = []
    for info in store.metric_infos():
        values = store.metric(info.probe, info.name)
        before, after = values[i], values[j]
        if info.kind == "head":
            cells = [(l_, h, before[l_, h], after[l_, h]) for l_ in range(before.shape[0])
                     for h in range(before.shape[1])]
        elif info.kind == "scalar":
            cells = [(-1, -1, before, after)]
        else:
            continue
        for layer, head, a, b in cells:
            if np.isfinite(a) and np.isfinite(b) and abs(b - a) >= min_change:
                crossed = (info.threshold is not None
                           and (a >= info.threshold) != (b >= info.threshold))
                rows.append({"probe": info.probe, "metric": info.name, "layer": layer,
                             "head": head, "before": float(a), "after": float(b),
                             "change": float(b - a), "crossed_threshold": bool(crossed)})
    frame = pd.DataFrame(rows, columns=["probe", "metric", "layer", "head", "before", "after",
                                        "change", "crossed_threshold"])
    order = frame["change"].abs().sort_values(ascending=False).index
    return frame.loc[order].reset_index(drop=True)
