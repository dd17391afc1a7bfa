"""Circuits read for people: one task's curves, role holders and swaps, live similarity.

The report and W&B both show, per task, how the minimal circuit moves over training
(:mod:`tracker.events.circuits` derives the numbers from the store). This module shapes them
once for both:

* :func:`task_circuits` gathers a task's arrays (similarity curves, size, faithfulness,
  masks and scores, the role table) and :func:`drawing_checkpoints` picks the checkpoints a
  circuit is drawn at;
* :func:`role_spells` compresses a role's per-checkpoint holders to the runs of checkpoints
  where they stay the same, so a table shows only where the holders change;
* :class:`PreviousCircuits` computes the similarity of each checkpoint's circuit to the
  previous one as steps arrive, for a live sweep, equal to the stored curves' ``*_previous``
  (the similarity to the *final* circuit needs the whole series and is only known at the end).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tracker.circuits.graph import CircuitGraph
from tracker.circuits.similarity import (
    SimilarityCurves,
    jaccard,
    node_jaccard,
    weighted_jaccard,
)
from tracker.events.circuits import (
    PROBE,
    circuit_graph,
    circuit_masks,
    role_swap_events,
    role_table,
    task_similarity,
)
from tracker.events.model import Event
from tracker.labels import HeadId, format_tokens
from tracker.store import SeriesStore
from tracker.views.metrics import Reading, edge_vector, log_spaced_indices

#: Faithfulness the probe's minimal circuit must reach when its config does not say.
DEFAULT_TARGET = 0.8
#: Similarity to the previous checkpoint, as logged live: name suffix -> measure.
PREVIOUS = ("jaccard_previous", "weighted_previous", "node_previous")


@dataclass(frozen=True)
class RoleSpell:
    """A run of consecutive checkpoints over which the same heads hold a role.

    Attributes:
        role: Role name (``name_mover``, ``induction``...).
        first: Index of the run's first checkpoint.
        last: Index of its last checkpoint.
        first_step: Training step of the first checkpoint.
        last_step: Training step of the last checkpoint.
        first_tokens: Tokens seen at the first checkpoint.
        last_tokens: Tokens seen at the last checkpoint.
        heads: Holders (labels such as ``L1H3``, layer-major order); empty for none.
    """

    role: str
    first: int
    last: int
    first_step: int
    last_step: int
    first_tokens: int
    last_tokens: int
    heads: tuple[str, ...]

    @property
    def n_checkpoints(self) -> int:
        """Checkpoints in the run."""
        return self.last - self.first + 1


def role_spells(steps: np.ndarray, tokens: np.ndarray, held: np.ndarray, role: str
                ) -> list[RoleSpell]:
    """Compress a role's holders over training to runs of checkpoints with the same holders.

    Args:
        steps: (S,) training steps.
        tokens: (S,) tokens seen.
        held: (S, n_layers, n_heads) booleans: the head holds the role at that checkpoint.
        role: Role name copied into the spells.

    Returns:
        The runs in order; together they cover every checkpoint once.
    """
    held = np.asarray(held, dtype=bool)
    if held.ndim != 3 or held.shape[0] != len(steps):
        raise ValueError(f"held must be (steps, layers, heads) over {len(steps)} steps, got "
                         f"{held.shape}")
    n_heads = held.shape[2]
    holders = [tuple(HeadId.from_flat(int(u), n_heads).label
                     for u in np.flatnonzero(row.ravel())) for row in held]
    out: list[RoleSpell] = []
    start = 0
    for i in range(1, len(holders) + 1):
        if i == len(holders) or holders[i] != holders[start]:
            out.append(RoleSpell(role, start, i - 1, int(steps[start]), int(steps[i - 1]),
                                 int(tokens[start]), int(tokens[i - 1]), holders[start]))
            start = i
    return out


@dataclass(frozen=True)
class TaskCircuits:
    """One task's circuits over a series, as the report and W&B show them.

    Attributes:
        task: Task slug (``ioi``).
        graph: The graph the edge vectors are over.
        steps: (S,) training steps.
        tokens: (S,) tokens seen.
        defined: (S,) whether a minimal circuit exists (the model does the task).
        masks: (S, E) circuit membership (all False where none is defined).
        scores: (S, E) EAP-IG edge scores (0 where not measured).
        similarity: Similarity to the previous and the final checkpoint's circuit.
        size: (S,) edges in the minimal circuit (NaN without one).
        size_fraction: (S,) their fraction of the graph's edges.
        faithfulness: (S,) normalised faithfulness of the minimal circuit.
        faithfulness_ratio: (S,) circuit / clean metric (Tigges et al.).
        target: Normalised faithfulness the probe's minimal circuit had to reach.
        roles: Role -> (S, n_layers, n_heads) holders (:func:`role_table`).
        swaps: The task's ``role_swap`` events.
    """

    task: str
    graph: CircuitGraph
    steps: np.ndarray
    tokens: np.ndarray
    defined: np.ndarray
    masks: np.ndarray
    scores: np.ndarray
    similarity: SimilarityCurves
    size: np.ndarray
    size_fraction: np.ndarray
    faithfulness: np.ndarray
    faithfulness_ratio: np.ndarray
    target: float
    roles: dict[str, np.ndarray]
    swaps: list[Event]

    def title(self, index: int) -> str:
        """Title of the circuit at one checkpoint: task, step, tokens, faithfulness."""
        faith = self.faithfulness[index]
        extra = f", faithfulness {faith:.2f}" if np.isfinite(faith) else ""
        return (f"{self.task} circuit · step {int(self.steps[index]):,} "
                f"({format_tokens(self.tokens[index])} tok{extra})")

    def spells(self) -> dict[str, list[RoleSpell]]:
        """Per role, its holders compressed to the checkpoints where they change."""
        return {role: role_spells(self.steps, self.tokens, held, role)
                for role, held in self.roles.items()}


def probe_target(store: SeriesStore) -> float:
    """Return the faithfulness target in the circuit probe's stored config (0.8 if unstated)."""
    try:
        config = json.loads(str(store.variant_attrs(PROBE)["config_json"]) or "{}")
    except (ValueError, KeyError):
        return DEFAULT_TARGET
    return float(config.get("target", DEFAULT_TARGET))


def task_circuits(store: SeriesStore, task: str) -> TaskCircuits:
    """Gather one task's circuits from a store with the circuit probe.

    Raises:
        StoreError: If the store lacks the task's metrics.
        KeyError: If it lacks the graph's shape (``static`` ``graph``).
    """
    p = f"circuit_{task}_"

    def scalar(name: str) -> np.ndarray:
        return store.metric(PROBE, p + name).astype(np.float64)

    defined = np.isfinite(store.metric(PROBE, p + "in_circuit")).all(axis=1)
    swaps = [e for e in role_swap_events(store) if e.metric.startswith(p)]
    return TaskCircuits(
        task=task, graph=circuit_graph(store), steps=np.asarray(store.steps),
        tokens=np.asarray(store.tokens), defined=defined, masks=circuit_masks(store, task),
        scores=np.nan_to_num(store.metric(PROBE, p + "edge_scores").astype(np.float64)),
        similarity=task_similarity(store, task), size=scalar("size"),
        size_fraction=scalar("size_fraction"), faithfulness=scalar("faithfulness"),
        faithfulness_ratio=scalar("faithfulness_ratio"), target=probe_target(store),
        roles=role_table(store, task), swaps=swaps)


def drawing_checkpoints(tokens: np.ndarray, defined: np.ndarray, n: int = 4) -> list[int]:
    """Checkpoints to draw a circuit at: about ``n`` log-spaced ones that have a circuit.

    The first and the last checkpoint with a circuit are always among them (the circuit
    as it appears and as it ends up); none when no checkpoint has one.
    """
    have = np.flatnonzero(np.asarray(defined, dtype=bool))
    if not len(have):
        return []
    return [int(have[i]) for i in log_spaced_indices(np.asarray(tokens)[have], n)]


class PreviousCircuits:
    """Similarity of each arriving checkpoint's circuits to the previous checkpoint's.

    Fed one checkpoint at a time in step order (a live sweep, or a replay), it gives the
    values of :func:`tracker.circuits.similarity.similarity_curves`' ``*_previous`` curves:
    a checkpoint without a circuit for a task (or without the circuit probe) is the previous
    one of the next checkpoint, whose similarity is then NaN, as in the stored curves.

    Args:
        graph: The graph, for node Jaccard; without it only the edge measures are given.
    """

    def __init__(self, graph: CircuitGraph | None = None) -> None:
        self.graph = graph
        self._last: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def update(self, readings: Iterable[Reading]) -> dict[str, float]:
        """Take one checkpoint's readings; return ``circuits/circuit_T_<measure>`` values.

        Values that are undefined (no circuit at either checkpoint, the first checkpoint of
        a task) are left out, as W&B shows a gap for a missing key.
        """
        found: dict[str, dict[str, np.ndarray]] = {}
        for metric, value in readings:
            which = edge_vector(metric)
            if which is not None:
                found.setdefault(which[0], {})[which[1]] = np.asarray(value, dtype=np.float64)
        out: dict[str, float] = {}
        for task in sorted(set(found) | set(self._last)):
            now = found.get(task, {})
            if "in_circuit" not in now:
                self._last[task] = (np.zeros(0, bool), np.zeros(0))  # no circuit here
                continue
            mask = np.nan_to_num(now["in_circuit"]) > 0.5
            scores = np.nan_to_num(now.get("edge_scores", np.zeros(mask.shape)))
            before = self._last.get(task)
            self._last[task] = (mask, scores)
            if before is None or before[0].shape != mask.shape:
                continue
            values = {"jaccard_previous": jaccard(mask, before[0]),
                      "weighted_previous": weighted_jaccard(mask, scores, *before)}
            if self.graph is not None and self.graph.n_edges == mask.size:
                values["node_previous"] = node_jaccard(self.graph, mask, before[0])
            out.update({f"{PROBE}/circuit_{task}_{k}": v for k, v in values.items()
                        if np.isfinite(v)})
        return out
