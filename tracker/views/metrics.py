"""The read model shared by plots, the HTML report and W&B logging.

Per-step aggregates are computed here once, from either a consolidated store row or a
freshly written step shard, so the numbers a live sweep sends to W&B are the numbers a later
replay of the store sends, and the numbers the report plots.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from tracker.events.circuits import PROBE as CIRCUIT_PROBE
from tracker.store import Metric, SeriesStore, StepShard, default_variant
from tracker.views.clusters import DRAWN as CLUSTERS_DRAWN
from tracker.views.clusters import PROBE as CLUSTERS_PROBE
from tracker.views.llc import PROBE as LLC_PROBE

#: One metric (its stored record: probe, name, kind, orientation...) and its value at one step.
Reading = tuple[Metric, np.ndarray]
_EDGE_VECTOR = re.compile(r"^circuit_(.+)_(edge_scores|in_circuit)$")
_CIRCUIT_DRAWN = re.compile(
    r"^circuit_.+_(size|size_fraction|faithfulness|faithfulness_ratio|name_mover|s_inhibition)$")


def edge_vector(metric: Metric) -> tuple[str, str] | None:
    """``(task, "edge_scores" | "in_circuit")`` for the circuit probe's per-edge vectors.

    These hold one entry per edge of the model's graph (thousands): their mean or max means
    little, so aggregates and plots leave them out and :mod:`tracker.views.circuits` shows
    the circuit instead. None for every other metric.
    """
    match = _EDGE_VECTOR.match(metric.name)
    if metric.probe != CIRCUIT_PROBE or metric.kind != "vector" or not match:
        return None
    return match.group(1), match.group(2)


def aggregate_names(metric: Metric) -> dict[str, str]:
    """Name the aggregates of one metric: role (``best``, ``count``, ``value``...) -> key.

    Keys look like ``induction/induction_score/max`` and
    ``induction/induction_score/n_over_threshold``; a scalar keeps ``probe/name``.
    """
    base = f"{metric.probe}/{metric.name}"
    if metric.kind == "scalar":
        return {"value": base}
    if metric.kind == "vector":
        return {"mean": f"{base}/mean", "best": f"{base}/max"}
    lower = metric.lower_is_mechanism
    names = {"best": f"{base}/{'min' if lower else 'max'}"}
    if metric.threshold is not None:
        names["count"] = f"{base}/n_{'under' if lower else 'over'}_threshold"
    return names


def count_past_threshold(value: np.ndarray, threshold: float, higher: bool | None) -> int:
    """Count entries at or past a threshold (>= when higher is the mechanism, else <=)."""
    finite = value[np.isfinite(value)]
    return int(np.sum(finite <= threshold if higher is False else finite >= threshold))


def step_aggregates(readings: Iterable[Reading]) -> dict[str, float]:
    """Aggregate one step's metrics into flat scalars (all-NaN metrics are left out).

    Head and layer metrics give their best value (max, or min when lower is the mechanism)
    and, when they declare a threshold, how many heads/layers are past it. Scalars are kept
    as they are; vectors give their mean and max, except a circuit's per-edge vectors
    (:func:`edge_vector`), whose circuit is summarised by its size and faithfulness.
    """
    out: dict[str, float] = {}
    for metric, raw in readings:
        value = np.asarray(raw, dtype=np.float64)
        if not np.isfinite(value).any() or edge_vector(metric) is not None:
            continue
        names = aggregate_names(metric)
        if metric.kind == "scalar":
            out[names["value"]] = float(value)
        elif metric.kind == "vector":
            out[names["mean"]] = float(np.nanmean(value))
            out[names["best"]] = float(np.nanmax(value))
        else:
            lower = metric.lower_is_mechanism
            out[names["best"]] = float(np.nanmin(value) if lower else np.nanmax(value))
            if metric.threshold is not None:
                out[names["count"]] = float(
                    count_past_threshold(value, metric.threshold, metric.higher_is_mechanism))
    return out


def readings_from_store(store: SeriesStore, index: int) -> list[Reading]:
    """Every metric of one checkpoint (by index) of a store, default variant per probe."""
    return [(m, store.metric(m.probe, m.name)[index]) for m in store.metric_infos()]


def readings_from_shard(shard: StepShard, keys: Mapping[str, str] | None = None) -> list[Reading]:
    """Every metric of a step shard, one variant per probe.

    Args:
        shard: The step's shard.
        keys: Variant key to use per probe (a live sweep passes its probes' keys); a probe
            without one uses :func:`tracker.store.default_variant` over the shard's variants.
    """
    candidates: dict[str, dict[str, tuple[int, int]]] = {}
    for (probe, key), result in shard.results.items():
        candidates.setdefault(probe, {})[key] = (1, result.version)
    chosen = {probe: default_variant(c) for probe, c in candidates.items()}
    chosen.update({p: k for p, k in (keys or {}).items() if (p, k) in shard.results})
    out = []
    for probe, key in sorted(chosen.items()):
        result = shard.results[(probe, key)]
        for name, metric in sorted(result.metrics.items()):
            if metric.error_of:
                continue  # standard errors travel with their metric, as in the store's listing
            value = result.values[name]
            out.append((metric.stored(probe, key, value.shape), value))
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


def drawn_by_circuits(metric: Metric) -> bool:
    """Whether the report's circuit block already shows a circuit-probe metric.

    Size and faithfulness have their own panels there, and the 0/1 role labels are its role
    table; plotted again as generic curves they would only repeat them.
    """
    return metric.probe == CIRCUIT_PROBE and bool(_CIRCUIT_DRAWN.match(metric.name))


def drawn_by_clusters(metric: Metric) -> bool:
    """Whether the report's token-cluster figures already show a cluster-probe metric.

    Energy violations (per prompt and per layer), the two-timescale ratio and verdict, the
    last boundary's cluster count and the OV spectral radius have panels there, drawn with
    their events; generic curves of them would only repeat those.
    """
    return metric.probe == CLUSTERS_PROBE and metric.name in CLUSTERS_DRAWN


def default_metrics(store: SeriesStore) -> list[Metric]:
    """Metrics worth plotting by default: head, layer and scalar metrics, heads first.

    Left out: what the circuit block, the token-cluster figures and the LLC block show
    (:func:`drawn_by_circuits`, :func:`drawn_by_clusters`; the LLC probe's curve and its
    SGLD diagnostics, which the LLC block summarises); per-edge vectors and the cluster
    probe's per-boundary vectors are left out with every vector.
    """
    order = {"head": 0, "layer": 1, "scalar": 2}
    infos = [i for i in store.metric_infos() if i.kind in order and i.probe != LLC_PROBE
             and not drawn_by_circuits(i) and not drawn_by_clusters(i)]
    return sorted(infos, key=lambda i: (order[i.kind], i.probe, i.name))


def log_spaced_indices(tokens: Sequence[int] | np.ndarray, n: int = 8) -> list[int]:
    """Pick about ``n`` checkpoint indices spread evenly in log(tokens), first and last kept.

    Step 0 (zero tokens) is kept as the first pick when present, since the initialisation is
    the reference every later panel is read against.
    """
    seen = np.asarray(tokens, dtype=np.float64)
    if len(seen) <= n:
        return list(range(len(seen)))
    picks: list[int] = []
    positive = np.flatnonzero(seen > 0)
    if len(positive) < len(seen):
        picks.append(int(np.flatnonzero(seen <= 0)[0]))
    want = n - len(picks)
    if len(positive):
        logs = np.log10(seen[positive])
        for target in np.linspace(logs[0], logs[-1], want):
            picks.append(int(positive[np.argmin(np.abs(logs - target))]))
    return sorted(set(picks))
