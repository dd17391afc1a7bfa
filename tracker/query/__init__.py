"""Questions about stored results, answered as tidy pandas DataFrames for notebooks and the CLI.

- :func:`heads_at_step`: which heads are <kind> at step S?
- :func:`when_became`: when did head LxHy become <kind>?
- :func:`changes_between`: what changed between steps A and B?
- :func:`circuit_order`: in what order did each induction head's circuit parts form?
- :func:`transition_widths`: how wide (abrupt or gradual) was each emergence and fade?

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


def _emergences(store: SeriesStore, info: Metric, layer: int, head: int,
                threshold: float | None) -> pd.DataFrame:
    """Emergence events of one head: the stored ones when current, else found now.

    Stored events count when the store has them, they are not stale (the steps did not
    change since) and ``threshold`` is None or the probe's own; otherwise the definition
    (:func:`tracker.events.emergence.classify`, through the same code ``tracker detect``
    runs) is applied to this head's series, with ``threshold`` when given.
    """
    from dataclasses import replace

    from tracker.events import events_frame, events_meta, find_in_series, head_spec, read_events

    own = threshold is None or threshold == info.threshold
    meta = events_meta(store.path)
    if own and meta:
        stored = read_events(store.path)
        if not stored.attrs.get("stale", False):
            return stored[(stored["kind"] == "emergence") & (stored["metric"] == info.name)
                          & (stored["layer"] == layer) & (stored["head"] == head)]
    spec = head_spec(store, info, layer, head)
    if threshold is not None:
        spec = replace(spec, threshold=float(threshold))
    found = find_in_series(store.series_id, store.steps, [spec], store.tokens_per_step)
    return events_frame([e for e in found if e.kind == "emergence"])


def when_became(store: SeriesStore, kind: str, head: str | tuple[int, int] | HeadId,
                threshold: float | None = None) -> pd.DataFrame:
    """Tell when a head became ``kind``, by the package's one emergence definition.

    That is the onset of the head's first emergence event (:mod:`tracker.events.emergence`):
    the stored event when the store's events are current, else the definition applied now to
    this head's series. ``head`` is a label as the report and CLI print it (``L1H3``), a
    :class:`HeadId` or a ``(layer, head)`` pair. ``threshold`` overrides the probe config's
    threshold in the definition (then the answer is computed, not read).

    Returns:
        One-row DataFrame (series, metric, head, threshold, first_step, first_tokens,
        event_onset_step, event_midpoint_step, event_end_step, event_onset_tokens,
        event_detector, final_score); steps are NaN and the detector '' when it never did.
    """
    import pandas as pd

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
    thr = threshold if threshold is not None else info.threshold
    finite = y[np.isfinite(y)]
    first = _emergences(store, info, layer, idx, threshold).sort_values("onset_step").head(1)
    has = len(first) > 0

    def col(name: str) -> float:
        return float(first[name].iloc[0]) if has else np.nan

    row = {"series": store.series_id, "metric": info.name, "head": hid.label,
           "threshold": np.nan if thr is None else float(thr),
           "first_step": col("onset_step"), "first_tokens": col("onset_tokens"),
           "final_score": float(finite[-1]) if len(finite) else np.nan}
    for name in ("onset_step", "midpoint_step", "end_step", "onset_tokens"):
        row[f"event_{name}"] = col(name)
    row["event_detector"] = str(first["detector"].iloc[0]) if has else ""
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


def circuit_order(stores: list[SeriesStore], parts: bool = False) -> pd.DataFrame:
    """Tell in what order each induction head's circuit parts formed, per store.

    See :mod:`tracker.events.induction_order` (previous-token partner by K-composition; each
    part timed by the first emergence of its series).

    Args:
        stores: Series stores holding the induction, composition and copying probes.
        parts: Return one row per (head, part) with widths and characters instead.

    Returns:
        With ``parts`` False: (series, head, partner, k_comp_final, prev_token_step,
        k_composition_step, induction_step, copying_step, order), midpoint steps.
    """
    import pandas as pd

    from tracker.events.induction_order import LONG_COLUMNS, induction_parts, order_table

    frames = [induction_parts(store) for store in stores]
    frames = [f for f in frames if len(f)]
    long = (pd.concat(frames, ignore_index=True) if frames
            else pd.DataFrame(columns=list(LONG_COLUMNS)))
    return long if parts else order_table(long)


def transition_widths(stores: list[SeriesStore]) -> pd.DataFrame:
    """Summarise the widths and characters of stored emergences and fades, per metric and store.

    Reads the events ``tracker detect`` wrote (:func:`tracker.events.character.width_table`).
    """
    from tracker.events import read_events_for
    from tracker.events.character import width_table

    return width_table(read_events_for((store.path, store.series_id) for store in stores))
