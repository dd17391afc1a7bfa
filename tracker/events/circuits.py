"""What the stored circuits say over training: similarity curves, role tables, role swaps.

The circuit probe (``circuits``) stores per checkpoint and task ``T`` the minimal circuit's
edges (``circuit_T_in_circuit``), the edge scores and the circuit's heads, plus IOI roles.
From these this module derives, per store:

* similarity of each checkpoint's circuit to the previous and to the final checkpoint's
  (:func:`tracker.circuits.similarity.similarity_curves`); the curves to the final circuit are
  tested by the emergence definition like any scalar metric (the final point, 1 by
  construction, is left out of the test), which dates when each circuit settles;
* a role table: per role and checkpoint, the circuit heads holding it. Name movers and
  S-inhibition heads are the probe's own labels; induction, duplicate, previous-token and
  successor roles are heads of the task's circuit whose score in that probe reaches the
  probe's threshold;
* role swaps (:func:`tracker.circuits.role_swaps.role_swaps`) as ``role_swap`` events;
* when each circuit forms (:func:`formation`): the first checkpoint from which a circuit is
  defined at every later one (the model does the task: clean and corrupted runs apart by more
  than the noise gate), and the first from which its weighted Jaccard similarity to the final
  circuit stays at or above :data:`SETTLED`. These describe the curves; the claims tested
  against a smooth null are the emergence events of the similarity curves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tracker.circuits.graph import CircuitGraph
from tracker.circuits.role_swaps import SwapConfig, role_swaps
from tracker.circuits.similarity import SimilarityCurves, similarity_curves
from tracker.errors import StoreError
from tracker.events.core import SeriesSpec
from tracker.events.model import Event
from tracker.labels import HeadId
from tracker.store import SeriesStore

PROBE = "circuits"
#: Roles read from other probes: role -> (probe, head metric); a circuit head holds the role
#: when its score reaches the metric's threshold.
PROBE_ROLES = {
    "induction": ("induction", "induction_score"),
    "previous_token": ("induction", "prev_token_score"),
    "duplicate": ("induction", "duplicate_score"),
    "successor": ("successor_heads", "succession_score"),
}
#: Roles the circuit probe labels itself (IOI).
LABELLED_ROLES = ("name_mover", "s_inhibition")
#: Similarity curves tested for events: name suffix -> field of SimilarityCurves.
TESTED = {"jaccard_final": "jaccard_final", "weighted_final": "weighted_final"}
#: Weighted Jaccard similarity to the final circuit above which a circuit counts as settled.
SETTLED = 0.75
_IN_CIRCUIT = re.compile(r"^circuit_(.+)_in_circuit$")


def circuit_tasks(store: SeriesStore) -> list[str]:
    """Tasks whose circuits the store holds (metric-name slugs such as ``ioi``)."""
    if not any(probe == PROBE for probe, _ in store.variants()):
        return []
    try:
        store.static(PROBE, "graph")
    except KeyError:
        return []  # the probe built no graph (an architecture without one): all NaN
    return sorted(m.group(1) for info in store.metric_infos(PROBE)
                  if (m := _IN_CIRCUIT.match(info.name)))


def circuit_graph(store: SeriesStore) -> CircuitGraph:
    """Rebuild the graph the stored edge vectors are over."""
    layers, heads, parallel = (int(v) for v in store.static(PROBE, "graph"))
    return CircuitGraph(layers, heads, bool(parallel))


def circuit_masks(store: SeriesStore, task: str) -> np.ndarray:
    """(S, E) boolean circuits per checkpoint; all False where none is defined."""
    return np.nan_to_num(store.metric(PROBE, f"circuit_{task}_in_circuit")) > 0.5


def task_similarity(store: SeriesStore, task: str) -> SimilarityCurves:
    """Similarity of each checkpoint's circuit to the previous and the final one."""
    scores = np.nan_to_num(store.metric(PROBE, f"circuit_{task}_edge_scores"))
    return similarity_curves(circuit_graph(store), store.steps, circuit_masks(store, task),
                             scores)


def _metric_or_none(store: SeriesStore, probe: str, name: str) -> np.ndarray | None:
    try:
        return store.metric(probe, name)
    except StoreError:
        return None


def role_table(store: SeriesStore, task: str) -> dict[str, np.ndarray]:
    """Per role, (S, n_layers, n_heads) booleans: the circuit head holds the role then.

    Roles whose scores are not stored (no such probe in the store) are left out.
    """
    in_circuit = np.nan_to_num(store.metric(PROBE, f"circuit_{task}_heads")) > 0.5
    out: dict[str, np.ndarray] = {}
    for role in LABELLED_ROLES:
        labels = _metric_or_none(store, PROBE, f"circuit_{task}_{role}")
        if labels is not None:
            out[role] = np.nan_to_num(labels) > 0.5
    for role, (probe, name) in PROBE_ROLES.items():
        scores = _metric_or_none(store, probe, name)
        if scores is None or scores.shape != in_circuit.shape:
            continue
        info = store.find_metric(f"{probe}/{name}")
        threshold = 0.5 if info.threshold is None else info.threshold
        out[role] = in_circuit & (np.nan_to_num(scores, nan=-np.inf) >= threshold)
    return out


def circuit_specs(store: SeriesStore) -> Iterator[SeriesSpec]:
    """Similarity-to-final curves of every task, as series the emergence definition tests."""
    for task in circuit_tasks(store):
        curves = task_similarity(store, task)
        for suffix, field in TESTED.items():
            values = np.asarray(getattr(curves, field), dtype=np.float64).copy()
            values[-1] = np.nan  # the final circuit against itself: 1 by construction
            yield SeriesSpec(PROBE, f"circuit_{task}_{suffix}", values, threshold=0.5,
                             higher_is_mechanism=True, span=1.0)


def role_swap_events(store: SeriesStore, config: SwapConfig | None = None) -> list[Event]:
    """Every role swap in every task's circuit, as ``role_swap`` events."""
    config = config or SwapConfig()
    events = []
    tps = store.tokens_per_step
    for task in circuit_tasks(store):
        for role, held in role_table(store, task).items():
            for swap in role_swaps(store.steps, held, role, config):
                to = HeadId.parse(swap.to_heads[0]) if swap.to_heads else HeadId(-1, -1)
                step = float(swap.step)
                events.append(Event(
                    store.series_id, "role_swap", PROBE, f"circuit_{task}_{role}", to.layer,
                    to.head, step, step, step, step * tps, step * tps, step * tps,
                    magnitude=float(len(swap.to_heads)), confidence=1.0,
                    detector=f"role_swaps:persistence{config.persistence}",
                    members=f"{'+'.join(swap.from_heads)}->{'+'.join(swap.to_heads)}",
                    evidence=f"labels steady {config.persistence} checkpoints on each side "
                             "(rule, no test)"))
    return events


def first_steady(steps: np.ndarray, ok: np.ndarray) -> int | None:
    """First step from which ``ok`` holds at every later checkpoint, or None."""
    ok = np.asarray(ok, dtype=bool)
    bad = np.flatnonzero(~ok)
    start = 0 if not len(bad) else int(bad[-1]) + 1
    return int(steps[start]) if start < len(ok) else None


@dataclass(frozen=True)
class Formation:
    """When one task's circuit forms in one series.

    Attributes:
        series: Series id.
        task: Task slug.
        defined_step: First step from which a circuit exists at every later checkpoint.
        settled_step: First step from which the weighted Jaccard similarity to the final
            circuit stays >= :data:`SETTLED`.
        defined_tokens: Tokens seen at ``defined_step`` (NaN when None).
        settled_tokens: Tokens seen at ``settled_step`` (NaN when None).
        final_size: Edges of the last checkpoint's circuit (NaN without one).
        final_faithfulness: Its normalised faithfulness.
    """

    series: str
    task: str
    defined_step: int | None
    settled_step: int | None
    defined_tokens: float
    settled_tokens: float
    final_size: float
    final_faithfulness: float


def formation(store: SeriesStore, task: str, level: float = SETTLED) -> Formation:
    """When ``task``'s circuit forms in ``store`` (see the module docstring)."""
    faith = store.metric(PROBE, f"circuit_{task}_faithfulness")
    defined = first_steady(store.steps, np.isfinite(faith))
    similar = np.nan_to_num(task_similarity(store, task).weighted_final, nan=-1.0) >= level
    settled = first_steady(store.steps, similar)
    tps = store.tokens_per_step

    def tokens(step: int | None) -> float:
        return float("nan") if step is None else float(step * tps)

    return Formation(store.series_id, task, defined, settled, tokens(defined), tokens(settled),
                     float(store.metric(PROBE, f"circuit_{task}_size")[-1]), float(faith[-1]))
