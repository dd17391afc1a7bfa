"""The read model shared by plots, the HTML report and W&B logging.

Per-step aggregates are computed here once, from either a consolidated store row or a
freshly written step shard, so the numbers a live sweep sends to W&B are the numbers a later
replay of the store sends, and the numbers the report plots.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tracker.errors import TrackerError
from tracker.store import MetricInfo, SeriesStore, StepShard


@dataclass(frozen=True)
class MetricSlice:
    """One metric's value at one step, with what is needed to aggregate it.

    Attributes:
        probe: Probe name.
        name: Metric name.
        kind: ``head``, ``layer``, ``scalar`` or ``vector``.
        value: The value (shape per kind); NaN where missing.
        higher_is_mechanism: Orientation, or None when the metric has none.
        threshold: Mechanism threshold, or None.
    """

    probe: str
    name: str
    kind: str
    value: np.ndarray
    higher_is_mechanism: bool | None
    threshold: float | None


def aggregate_names(probe: str, name: str, kind: str, higher: bool | None,
                    threshold: float | None) -> dict[str, str]:
    """Name the aggregates of one metric: role (``best``, ``count``, ``value``...) -> key.

    Keys look like ``induction/induction_score/max`` and
    ``induction/induction_score/n_over_threshold``; a scalar keeps ``probe/name``.
    """
    base = f"{probe}/{name}"
    if kind == "scalar":
        return {"value": base}
    if kind == "vector":
        return {"mean": f"{base}/mean", "best": f"{base}/max"}
    lower = higher is False
    names = {"best": f"{base}/{'min' if lower else 'max'}"}
    if threshold is not None:
        names["count"] = f"{base}/n_{'under' if lower else 'over'}_threshold"
    return names


def count_past_threshold(value: np.ndarray, threshold: float, higher: bool | None) -> int:
    """Count entries at or past a threshold (>= when higher is the mechanism, else <=)."""
    finite = value[np.isfinite(value)]
    return int(np.sum(finite <= threshold if higher is False else finite >= threshold))


def step_aggregates(slices: Iterable[MetricSlice]) -> dict[str, float]:
    """Aggregate one step's metrics into flat scalars (all-NaN metrics are left out).

    Head and layer metrics give their best value (max, or min when lower is the mechanism)
    and, when they declare a threshold, how many heads/layers are past it. Scalars are kept
    as they are; vectors give their mean and max.
    """
    out: dict[str, float] = {}
    for s in slices:
        value = np.asarray(s.value, dtype=np.float64)
        if not np.isfinite(value).any():
            continue
        names = aggregate_names(s.probe, s.name, s.kind, s.higher_is_mechanism, s.threshold)
        if s.kind == "scalar":
            out[names["value"]] = float(value)
        elif s.kind == "vector":
            out[names["mean"]] = float(np.nanmean(value))
            out[names["best"]] = float(np.nanmax(value))
        else:
            lower = s.higher_is_mechanism is False
            out[names["best"]] = float(np.nanmin(value) if lower else np.nanmax(value))
            if s.threshold is not None:
                out[names["count"]] = float(
                    count_past_threshold(value, s.threshold, s.higher_is_mechanism))
    return out


def slices_from_store(store: SeriesStore, index: int) -> list[MetricSlice]:
    """Metric slices of one checkpoint (by index) of a store, default variant per probe."""
    return [MetricSlice(i.probe, i.name, i.kind, store.metric(i.probe, i.name)[index],
                        i.higher_is_mechanism, i.threshold)
            for i in store.metric_infos()]


def slices_from_shard(shard: StepShard, keys: dict[str, str] | None = None) -> list[MetricSlice]:
    """Metric slices of a step shard.

    Args:
        shard: The step's shard.
        keys: Variant key to use per probe; a probe without one uses its newest variant
            (highest version, then key) when the shard holds several.
    """
    chosen: dict[str, str] = {}
    for probe, key in sorted(shard.results, key=lambda pk: (shard.results[pk].version, pk[1])):
        chosen[probe] = key
    chosen.update({p: k for p, k in (keys or {}).items() if (p, k) in shard.results})
    out = []
    for probe, key in sorted(chosen.items()):
        for name, metric in sorted(shard.results[(probe, key)].metrics.items()):
            out.append(MetricSlice(probe, name, metric.kind, np.asarray(metric.value),
                                   metric.higher_is_mechanism, metric.threshold))
    return out


def best_over_units(values: np.ndarray, higher: bool | None) -> np.ndarray:
    """Reduce (n_steps, ...) to (n_steps,) by the best unit (max, or min if lower is better)."""
    flat = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    out = np.full(len(flat), np.nan)
    rows = np.isfinite(flat).any(axis=1)
    if rows.any():
        reduce = np.nanmin if higher is False else np.nanmax
        out[rows] = reduce(flat[rows], axis=1)
    return out


def resolve_metric(store: SeriesStore, spec: str) -> MetricInfo:
    """Find a metric by ``name`` or ``probe/name``.

    Raises:
        TrackerError: If the store holds no such metric (or the bare name is ambiguous).
    """
    probe, _, name = spec.rpartition("/")
    infos = store.metric_infos()
    matches = [i for i in infos if i.name == name and (not probe or i.probe == probe)]
    if not matches:
        known = ", ".join(sorted(f"{i.probe}/{i.name}" for i in infos)) or "none"
        raise TrackerError(f"{store.path}: no metric {spec!r} (known: {known})")
    if len(matches) > 1:
        raise TrackerError(f"{store.path}: metric {spec!r} is in several probes "
                           f"{sorted(i.probe for i in matches)}; write PROBE/NAME")
    return matches[0]


def default_metrics(store: SeriesStore) -> list[MetricInfo]:
    """Metrics worth plotting by default: head, layer and scalar metrics, heads first."""
    order = {"head": 0, "layer": 1, "scalar": 2}
    infos = [i for i in store.metric_infos() if i.kind in order]
    return sorted(infos, key=lambda i: (order[i.kind], i.probe, i.name))


def log_spaced_indices(tokens: Sequence[int], n: int = 8) -> list[int]:
    """Pick about ``n`` checkpoint indices spread evenly in log(tokens), first and last kept.

    Step 0 (zero tokens) is kept as the first pick when present, since the initialisation is
    the reference every later panel is read against.
    """
    tokens = np.asarray(tokens, dtype=np.float64)
    if len(tokens) <= n:
        return list(range(len(tokens)))
    picks: list[int] = []
    positive = np.flatnonzero(tokens > 0)
    if len(positive) < len(tokens):
        picks.append(int(np.flatnonzero(tokens <= 0)[0]))
    want = n - len(picks)
    if len(positive):
        logs = np.log10(tokens[positive])
        for target in np.linspace(logs[0], logs[-1], want):
            picks.append(int(positive[np.argmin(np.abs(logs - target))]))
    return sorted(set(picks))
