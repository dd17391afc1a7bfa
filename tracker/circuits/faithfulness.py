"""How much of the model's behaviour a circuit keeps: faithfulness curves and minimal circuits.

A circuit runs on the clean prompt with every edge outside it reading its sender's output on
the corrupted prompt (the receivers' other inputs stay clean). Its metric is compared with the
clean run (every edge in) and the corrupted run (none in), means over examples:

- ``normalised = (circuit - corrupted) / (clean - corrupted)``: 0 is the corrupted run, 1 the
  clean one (Hanna et al. 2024, the EAP-IG reference's faithfulness). The primary measure.
- ``ratio = circuit / clean`` (Tigges et al. 2024). Meaningful for metrics far from 0 on the
  clean run, such as a logit difference; a log-probability near 0 makes it blow up.

Neither is computed when the model does not do the task yet, which takes three things: the
clean mean must exceed the corrupted one (a model preferring the corrupted prompts' answers
does the opposite task), by more than ``noise_multiple`` standard errors of the per-example
difference (statistically), and by at least ``min_gap`` (practically: at initialisation a
greater-than model's two runs differ by 0.001 in probability, many standard errors of 64
deterministic prompts, and a "circuit" reproducing that difference explains nothing). They
are NaN then and ``reason`` says why.

Circuits come from :func:`~tracker.circuits.search.greedy_order` over edge scores; sizes count
edges taken from that order (pruning can keep fewer, see
:func:`~tracker.circuits.search.circuit_mask`). :data:`FRACTIONS` is a fixed grid of fractions
of the graph's edges, so curves from any checkpoint or model shape line up as one vector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from tracker.circuits.attribution import Metric, paired_batches
from tracker.circuits.graph import CircuitGraph
from tracker.circuits.search import circuit_mask, greedy_order
from tracker.circuits.split_forward import ReceiverValues, embed, split_forward
from tracker.models.base import ArchitectureAdapter

#: Fractions of a graph's edges at which faithfulness is stored (the last is the whole graph).
FRACTIONS: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
#: A clean - corrupted gap this small relative to the metric's scale is float noise, even when
#: every example agrees (standard error 0, e.g. identical clean and corrupted prompts).
_RELATIVE_FLOOR = 1e-6


@dataclass(frozen=True)
class SearchConfig:
    """How circuits are searched for and judged; every field is JSON-able.

    Attributes:
        target: Normalised faithfulness a minimal circuit must reach, in (0, 1].
        noise_multiple: Standard errors of the per-example clean - corrupted difference that
            the mean difference must exceed for faithfulness to be defined.
        fractions: Increasing fractions of the graph's edges, ending at 1.0: the curve stored
            for every checkpoint and the coarse grid of the minimal-circuit search.
        tolerance: The binary search stops once its bracket is at most this fraction of the
            upper size (or one edge): the minimal size overshoots by at most that much.
        min_gap: Smallest clean - corrupted mean difference that counts as doing the task, in
            the metric's units (a task's own, see :mod:`tracker.circuits.tasks`).
    """

    target: float = 0.8
    noise_multiple: float = 2.0
    fractions: tuple[float, ...] = FRACTIONS
    tolerance: float = 0.02
    min_gap: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.target <= 1:
            raise ValueError(f"target must be in (0, 1], got {self.target}")
        if self.noise_multiple < 0 or self.min_gap < 0:
            raise ValueError(f"noise_multiple and min_gap must be >= 0, got "
                             f"{self.noise_multiple}, {self.min_gap}")
        fr = self.fractions
        if (not fr or fr[-1] != 1.0 or fr[0] <= 0
                or any(a >= b for a, b in zip(fr, fr[1:], strict=False))):
            raise ValueError(f"fractions must increase within (0, 1] and end at 1.0, got {fr}")
        if not 0 <= self.tolerance < 1:
            raise ValueError(f"tolerance must be in [0, 1), got {self.tolerance}")


def fraction_sizes(graph: CircuitGraph, fractions: tuple[float, ...] = FRACTIONS) -> np.ndarray:
    """Return the edge counts of ``fractions`` of the graph (rounded up, at least one edge)."""
    sizes = np.ceil(np.asarray(fractions, dtype=np.float64) * graph.n_edges).astype(np.int64)
    return np.clip(sizes, 1, graph.n_edges)


def _task_gate(diff: float, diff_se: float, noise_multiple: float, min_gap: float) -> str:
    """Why the model does not do the task ('' when it does); see the module docstring."""
    if diff <= 0:
        return (f"the model does not prefer the clean answers: clean - corrupted {diff:.3g} "
                "<= 0")
    if diff <= noise_multiple * diff_se:
        return (f"clean and corrupted within noise: diff {diff:.3g} <= {noise_multiple:g} x "
                f"SE {diff_se:.3g}")
    if diff < min_gap:
        return f"clean - corrupted {diff:.3g} below the task's minimum gap {min_gap:.3g}"
    return ""


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


@dataclass(frozen=True, eq=False)
class Faithfulness:
    """A faithfulness curve: the metric of nested circuits against the clean and corrupted runs.

    Attributes:
        requested: (k,) edges taken from the greedy order, increasing.
        kept: (k,) edges left after pruning.
        circuit: (k,) mean metric of each circuit.
        circuit_se: (k,) its standard error.
        clean: Mean metric of the clean run.
        corrupted: Mean metric of the corrupted run.
        clean_se: Standard error of ``clean``.
        corrupted_se: Standard error of ``corrupted``.
        diff_se: Standard error of the mean per-example difference clean - corrupted.
        normalised: (k,) (circuit - corrupted) / (clean - corrupted); NaN when undefined.
        ratio: (k,) circuit / clean; NaN when undefined.
        reason: Why ``normalised`` or ``ratio`` is NaN; '' when both are defined.
    """

    requested: np.ndarray
    kept: np.ndarray
    circuit: np.ndarray
    circuit_se: np.ndarray
    clean: float
    corrupted: float
    clean_se: float
    corrupted_se: float
    diff_se: float
    normalised: np.ndarray
    ratio: np.ndarray
    reason: str = ""

    @classmethod
    def from_values(cls, requested: np.ndarray, kept: np.ndarray, circuit: np.ndarray,
                    clean: np.ndarray, corrupted: np.ndarray,
                    noise_multiple: float = 2.0, min_gap: float = 0.0) -> Faithfulness:
        """Summarise per-example metric values.

        Args:
            requested: (k,) edges requested per circuit.
            kept: (k,) edges kept per circuit.
            circuit: (k, N) metric of each circuit on each example.
            clean: (N,) metric of the clean run.
            corrupted: (N,) metric of the corrupted run.
            noise_multiple: See :class:`SearchConfig`.
            min_gap: See :class:`SearchConfig`.

        Raises:
            ValueError: With fewer than two examples (no standard error).
        """
        circuit = np.asarray(circuit, dtype=np.float64).reshape(len(requested), -1)
        if circuit.shape[1] < 2:
            raise ValueError("faithfulness needs at least two examples for a standard error")
        clean_m, clean_se = _mean_se(np.asarray(clean, dtype=np.float64))
        corrupt_m, corrupt_se = _mean_se(np.asarray(corrupted, dtype=np.float64))
        diff, diff_se = _mean_se(np.asarray(clean, np.float64) - np.asarray(corrupted, np.float64))
        means = circuit.mean(axis=1)
        ses = circuit.std(axis=1, ddof=1) / math.sqrt(circuit.shape[1])
        nan = np.full(len(means), np.nan)
        floor = _RELATIVE_FLOOR * max(1.0, abs(clean_m), abs(corrupt_m))
        gate = _task_gate(diff, diff_se, noise_multiple, max(min_gap, floor))
        if gate:
            reason = gate
            return cls(np.asarray(requested), np.asarray(kept), means, ses, clean_m, corrupt_m,
                       clean_se, corrupt_se, diff_se, nan, nan.copy(), reason)
        normalised = (means - corrupt_m) / diff
        reason, ratio = "", nan
        if abs(clean_m) <= max(noise_multiple * clean_se, floor):
            reason = (f"clean metric within noise of 0: |clean| {abs(clean_m):.3g} <= "
                      f"{noise_multiple:g} x SE {clean_se:.3g}, ratio undefined")
        else:
            ratio = means / clean_m
        return cls(np.asarray(requested), np.asarray(kept), means, ses, clean_m, corrupt_m,
                   clean_se, corrupt_se, diff_se, normalised, ratio, reason)

    def at(self, sizes: np.ndarray | list[int]) -> np.ndarray:
        """Return ``normalised`` at evaluated ``sizes`` (e.g. the fraction grid's, to store).

        Raises:
            ValueError: If a size was not evaluated.
        """
        where = {int(s): i for i, s in enumerate(self.requested)}
        missing = sorted({int(s) for s in sizes} - set(where))
        if missing:
            raise ValueError(f"sizes {missing} were not evaluated")
        return self.normalised[[where[int(s)] for s in sizes]]


@dataclass(frozen=True, eq=False)
class MinimalCircuit:
    """The smallest greedy circuit reaching the target faithfulness.

    Attributes:
        size: Edges taken from the greedy order; -1 when faithfulness is undefined.
        kept: Edges in ``mask`` (after pruning); -1 when undefined.
        mask: (n_edges,) bool, the circuit; all False when undefined.
        curve: Every size evaluated (the fraction grid and the binary-search points), sorted.
        reason: Why no circuit was found ('' when one was).
    """

    size: int
    kept: int
    mask: np.ndarray
    curve: Faithfulness
    reason: str = ""


class _Runs:
    """The clean and corrupted runs of a prompt set, done once, then circuits patched in.

    Keeps each batch's clean embeddings and corrupted sender outputs, so the bisection of
    :func:`minimal_circuit` costs one patched forward per size rather than three.
    """

    def __init__(self, graph: CircuitGraph, adapter: ArchitectureAdapter, clean: torch.Tensor,
                 corrupt: torch.Tensor, metric: Metric, batch_size: int) -> None:
        self.graph, self.adapter, self.metric = graph, adapter, metric
        n = clean.shape[0]
        self.clean, self.corrupted = np.empty(n), np.empty(n)
        self.batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        with torch.no_grad():
            for rows, clean_rows, corrupt_rows in paired_batches(clean, corrupt, batch_size):
                corrupted = split_forward(adapter, graph, embed(adapter, corrupt_rows))
                clean_embeds = embed(adapter, clean_rows)
                clean_logits = split_forward(adapter, graph, clean_embeds).logits
                self.clean[rows.numpy()] = self._values(clean_logits, rows)
                self.corrupted[rows.numpy()] = self._values(corrupted.logits, rows)
                self.batches.append((rows, clean_embeds, corrupted.senders))

    def _values(self, logits: torch.Tensor, rows: torch.Tensor) -> np.ndarray:
        return self.metric(logits, rows).detach().double().cpu().numpy()

    def circuits(self, masks: list[np.ndarray]) -> np.ndarray:
        """(len(masks), N) metric per example of each circuit (float64)."""
        out = np.empty((len(masks), len(self.clean)))
        # mask = 1 makes an edge read the corrupted sender: every edge outside the circuit.
        patches = [ReceiverValues.from_edges(self.graph, ~np.asarray(m, dtype=bool))
                   for m in masks]
        with torch.no_grad():
            for rows, clean_embeds, senders in self.batches:
                for i, patch in enumerate(patches):
                    logits = split_forward(self.adapter, self.graph, clean_embeds, senders,
                                           patch).logits
                    out[i, rows.numpy()] = self._values(logits, rows)
        return out


def circuit_metric(graph: CircuitGraph, adapter: ArchitectureAdapter, clean: torch.Tensor,
                   corrupt: torch.Tensor, metric: Metric, in_circuit: np.ndarray,
                   batch_size: int = 16) -> np.ndarray:
    """Return the metric per example of the circuit ``in_circuit`` (float64, shape (N,)).

    Every edge outside the circuit reads its sender's output on the corrupted prompt.
    """
    return _Runs(graph, adapter, clean, corrupt, metric, batch_size).circuits([in_circuit])[0]


def faithfulness_curve(graph: CircuitGraph, adapter: ArchitectureAdapter, clean: torch.Tensor,
                       corrupt: torch.Tensor, metric: Metric, scores: np.ndarray,
                       sizes: np.ndarray | list[int], batch_size: int = 16,
                       config: SearchConfig = SearchConfig()) -> Faithfulness:
    """Evaluate the greedy circuits of ``scores`` at ``sizes`` edges.

    For the stored, shape-independent curve pass ``fraction_sizes(graph, config.fractions)``.

    Args:
        graph: The model's graph.
        adapter: The model.
        clean: (N, T) clean prompts.
        corrupt: (N, T) corrupted prompts.
        metric: Metric per example.
        scores: (n_edges,) edge scores (their sign is ignored).
        sizes: Edge counts taken from the greedy order, in the order reported.
        batch_size: Examples per forward pass.
        config: ``noise_multiple`` is read.
    """
    order = greedy_order(graph, scores)
    requested = np.asarray(sizes, dtype=np.int64)
    unique, inverse = np.unique(requested, return_inverse=True)
    masks = [circuit_mask(graph, order, int(s)) for s in unique]
    runs = _Runs(graph, adapter, clean, corrupt, metric, batch_size)
    circuits, clean_v, corrupt_v = runs.circuits(masks), runs.clean, runs.corrupted
    kept = np.array([m.sum() for m in masks], dtype=np.int64)
    return Faithfulness.from_values(requested, kept[inverse], circuits[inverse], clean_v,
                                    corrupt_v, config.noise_multiple,
                                    config.min_gap)


def minimal_circuit(graph: CircuitGraph, adapter: ArchitectureAdapter, clean: torch.Tensor,
                    corrupt: torch.Tensor, metric: Metric, scores: np.ndarray,
                    config: SearchConfig = SearchConfig(), batch_size: int = 16
                    ) -> MinimalCircuit:
    """Find the fewest greedy edges whose normalised faithfulness reaches ``config.target``.

    Evaluates the fraction grid, then binary-searches between the first grid size that reaches
    the target and the grid size before it (the empty circuit, faithfulness 0, below the
    first), as the EAP-IG reference does. Faithfulness need not grow with size, so this is the
    smallest size found this way, not a guaranteed minimum. The whole graph has faithfulness 1,
    so a target is always reached when faithfulness is defined; when it is not (the model does
    not do the task) the size is -1 and ``reason`` says why.

    Args:
        graph: The model's graph.
        adapter: The model.
        clean: (N, T) clean prompts.
        corrupt: (N, T) corrupted prompts.
        metric: Metric per example.
        scores: (n_edges,) edge scores (their sign is ignored).
        config: Target, noise gate, grid and tolerance.
        batch_size: Examples per forward pass.
    """
    order = greedy_order(graph, scores)
    masks = {int(s): circuit_mask(graph, order, int(s))
             for s in np.unique(fraction_sizes(graph, config.fractions))}
    grid = sorted(masks)
    runs = _Runs(graph, adapter, clean, corrupt, metric, batch_size)
    clean_v, corrupt_v = runs.clean, runs.corrupted
    gate = Faithfulness.from_values(np.array(grid), np.zeros(len(grid)),
                                    np.zeros((len(grid), len(clean_v))), clean_v, corrupt_v,
                                    config.noise_multiple, config.min_gap)
    if np.isnan(gate.normalised).all():  # the model does not do the task: no patching needed
        nan = Faithfulness.from_values(
            np.array(grid), np.array([masks[s].sum() for s in grid]),
            np.full((len(grid), len(clean_v)), np.nan), clean_v, corrupt_v,
            config.noise_multiple, config.min_gap)
        return MinimalCircuit(-1, -1, np.zeros(graph.n_edges, dtype=bool), nan, nan.reason)
    per_size = dict(zip(grid, runs.circuits([masks[s] for s in grid]), strict=True))

    def curve() -> Faithfulness:
        sizes = sorted(per_size)
        return Faithfulness.from_values(
            np.array(sizes), np.array([masks[s].sum() for s in sizes]),
            np.stack([per_size[s] for s in sizes]), clean_v, corrupt_v, config.noise_multiple,
                                    config.min_gap)

    def passes(values: np.ndarray) -> bool:
        diff = clean_v.mean() - corrupt_v.mean()
        return bool((values.mean() - corrupt_v.mean()) / diff >= config.target)

    # The whole graph (the last grid size) is the clean run, faithfulness 1 up to float error.
    hi = next((s for s in grid if passes(per_size[s])), grid[-1])
    lo = max((s for s in grid if s < hi), default=0)
    while hi - lo > max(1, int(config.tolerance * hi)):
        mid = (lo + hi) // 2
        masks[mid] = circuit_mask(graph, order, mid)
        per_size[mid] = runs.circuits([masks[mid]])[0]
        hi, lo = (mid, lo) if passes(per_size[mid]) else (hi, mid)
    return MinimalCircuit(hi, int(masks[hi].sum()), masks[hi], curve())
