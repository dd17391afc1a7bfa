"""Faithfulness of greedy circuits: the planted induction circuit, the noise gate, the search."""

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from tests.circuits.conftest import INDUCTION, InductionTask
from tests.support.builders import tiny_model
from tracker.circuits import (
    CircuitGraph,
    Faithfulness,
    SearchConfig,
    circuit_mask,
    circuit_metric,
    faithfulness_curve,
    fraction_sizes,
    greedy_order,
    head_mask,
    minimal_circuit,
)
from tracker.models.gpt_neox import GPTNeoXAdapter


def test_the_whole_graph_is_the_clean_run_and_no_edge_the_corrupted_one(
        induction_task: InductionTask, induction_exact_scores: np.ndarray) -> None:
    graph = induction_task.graph
    curve = faithfulness_curve(*induction_task.args(), induction_exact_scores,
                               [0, graph.n_edges])
    assert curve.reason == ""
    assert curve.kept.tolist() == [0, graph.n_edges]
    assert curve.normalised[1] == pytest.approx(1.0, abs=1e-5)
    assert curve.ratio[1] == pytest.approx(1.0, abs=1e-5)
    assert curve.normalised[0] == pytest.approx(0.0, abs=1e-5)
    # The task separates: the answer is nearly certain clean (log-prob -4.5e-5), not corrupted.
    assert curve.clean == pytest.approx(0.0, abs=1e-3)
    assert curve.corrupted < -10
    assert curve.circuit[0] == pytest.approx(curve.corrupted, abs=1e-4)


def test_the_planted_induction_circuit_is_faithful_and_minimal(
        induction_task: InductionTask, induction_exact_scores: np.ndarray) -> None:
    """Measured: 2 greedy edges 0.107, the 4 planted edges 1.0000 (of 102 edges; EAP-IG m=10
    scores give 5, adding L0H0->L1H0.v).

    L1H0->logits (1 edge) is pruned: L1H0 reading only corrupted inputs is the corrupted run.
    """
    graph = induction_task.graph
    curve = faithfulness_curve(*induction_task.args(), induction_exact_scores, [1, 2, 4])
    assert curve.kept.tolist() == [0, 2, 4]
    assert curve.normalised[0] == pytest.approx(0.0, abs=1e-5)
    assert curve.normalised[1] == pytest.approx(0.107, abs=0.01)
    assert curve.normalised[2] == pytest.approx(1.0, abs=1e-4)  # the clean log-prob exactly

    found = minimal_circuit(*induction_task.args(), induction_exact_scores)
    assert found.reason == ""
    assert (found.size, found.kept) == (4, 4)
    assert {graph.edges[i].name for i in np.flatnonzero(found.mask)} == INDUCTION
    assert head_mask(graph, found.mask).tolist() == [[True, False, False, False],
                                                     [True, False, False, False]]
    # The fraction grid of 102 edges (1, 2, 3, 6, 11, 21, 51, 102) plus the bisection point 4.
    assert found.curve.requested.tolist() == [1, 2, 3, 4, 6, 11, 21, 51, 102]
    assert found.curve.normalised[3] > 0.99 > 0.8 > found.curve.normalised[2]
    # The fixed-length vector stored per checkpoint, read off the search's curve.
    stored = found.curve.at(fraction_sizes(graph))
    assert stored.shape == (10,)
    np.testing.assert_allclose(stored[:4], [0.0, 0.0, 0.0, 0.107], atol=0.01)
    assert (stored[5:] > 0.99).all()
    with pytest.raises(ValueError, match=r"sizes \[5\] were not evaluated"):
        found.curve.at([4, 5])


def test_a_stricter_tolerance_or_target_moves_the_minimal_circuit(
        induction_task: InductionTask, induction_exact_scores: np.ndarray) -> None:
    """Target 0.1: the 2-edge circuit (0.107) suffices; grid 1.0 only: bisection from 0."""
    low = minimal_circuit(*induction_task.args(), induction_exact_scores,
                          SearchConfig(target=0.1))
    assert low.size == 2
    only_whole = minimal_circuit(*induction_task.args(), induction_exact_scores,
                                 SearchConfig(fractions=(1.0,), tolerance=0.0))
    assert only_whole.size == 4
    assert only_whole.curve.requested[-1] == induction_task.graph.n_edges


def test_identical_clean_and_corrupted_prompts_give_nan_and_the_reason(
        induction_task: InductionTask, induction_exact_scores: np.ndarray) -> None:
    task = induction_task
    args = (task.graph, task.adapter, task.clean, task.clean, task.metric)
    curve = faithfulness_curve(*args, induction_exact_scores, [4, task.graph.n_edges])
    assert np.isnan(curve.normalised).all() and np.isnan(curve.ratio).all()
    assert curve.reason.startswith("clean and corrupted within noise: |diff| 0 <= 2 x SE 0")
    found = minimal_circuit(*args, induction_exact_scores)
    assert (found.size, found.kept, found.reason) == (-1, -1, curve.reason)
    assert not found.mask.any()


def _tiny_task() -> tuple:
    """A random tiny model; the corrupted prompts differ in one early token."""
    model = tiny_model(seed=0, scale=0.5)
    adapter, graph = GPTNeoXAdapter(model), CircuitGraph.from_config(model.config)
    gen = torch.Generator().manual_seed(0)
    clean = torch.randint(0, 50, (8, 6), generator=gen)
    corrupt = clean.clone()
    corrupt[:, 2] = torch.randint(0, 50, (8,), generator=gen)
    answer, wrong = torch.randint(0, 50, (2, 8), generator=gen)

    def metric(logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        idx = torch.arange(len(rows))
        return logits[:, -1][idx, answer[rows]] - logits[:, -1][idx, wrong[rows]]

    return graph, adapter, clean, corrupt, metric


def test_a_random_model_does_not_do_the_task() -> None:
    """Measured: clean 1.528, corrupted 1.543, |diff| 0.015 against SE 0.067."""
    args = _tiny_task()
    scores = np.random.default_rng(0).standard_normal(args[0].n_edges)
    curve = faithfulness_curve(*args, scores, [10, args[0].n_edges])
    assert np.isnan(curve.normalised).all()
    assert curve.reason == "clean and corrupted within noise: |diff| 0.0152 <= 2 x SE 0.0667"
    assert curve.clean == pytest.approx(1.528, abs=1e-3)


def test_pruning_does_not_change_what_the_circuit_computes() -> None:
    graph, adapter, clean, corrupt, metric = _tiny_task()
    order = greedy_order(graph, np.random.default_rng(0).standard_normal(graph.n_edges))
    prefix = np.zeros(graph.n_edges, dtype=bool)
    prefix[order[:14]] = True
    pruned = circuit_mask(graph, order, 14)
    assert pruned.sum() == 12
    before = circuit_metric(graph, adapter, clean, corrupt, metric, prefix)
    after = circuit_metric(graph, adapter, clean, corrupt, metric, pruned, batch_size=3)
    assert before.dtype == np.float64 and before.shape == (8,)
    np.testing.assert_allclose(after, before, atol=1e-4)
    # Not vacuous: the circuit is neither run.
    baseline = circuit_metric(graph, adapter, clean, corrupt, metric,
                              np.zeros(graph.n_edges, dtype=bool))
    assert np.abs(before - baseline).max() > 0.1


def test_summary_by_hand() -> None:
    """clean (2, 4), corrupted 0: diff 3, SE 1; the circuit at 1 is a third of the way."""
    args = (np.array([5]), np.array([5]), np.array([[1.0, 1.0]]), np.array([2.0, 4.0]),
            np.zeros(2))
    f = Faithfulness.from_values(*args)
    assert (f.clean, f.corrupted, f.diff_se, f.clean_se) == (3.0, 0.0, 1.0, 1.0)
    assert f.normalised.tolist() == [pytest.approx(1 / 3)]
    assert f.ratio.tolist() == [pytest.approx(1 / 3)]
    gated = Faithfulness.from_values(*args, noise_multiple=3.0)
    assert np.isnan(gated.normalised).all() and "|diff| 3 <= 3 x SE 1" in gated.reason
    near_zero = Faithfulness.from_values(np.array([5]), np.array([5]), np.array([[1.0, 1.0]]),
                                         np.array([-1.0, 1.5]), np.array([-9.0, -9.0]))
    assert near_zero.normalised.tolist() == [pytest.approx(10 / 9.25)]
    assert np.isnan(near_zero.ratio).all() and "ratio undefined" in near_zero.reason
    with pytest.raises(ValueError, match="at least two examples"):
        Faithfulness.from_values(np.array([1]), np.array([1]), np.array([[1.0]]),
                                 np.array([1.0]), np.array([0.0]))


def test_fraction_grid_and_config() -> None:
    assert fraction_sizes(CircuitGraph(2, 4, parallel=True)).tolist() == [
        1, 1, 1, 2, 3, 6, 11, 21, 51, 102]
    assert fraction_sizes(CircuitGraph(12, 12, parallel=True)).tolist() == [
        33, 65, 162, 324, 647, 1618, 3235, 6470, 16174, 32347]
    config = SearchConfig(target=0.9, fractions=(0.1, 1.0))
    loaded = json.loads(json.dumps(asdict(config)))
    assert SearchConfig(**{**loaded, "fractions": tuple(loaded["fractions"])}) == config
    for bad in ({"target": 0.0}, {"target": 1.5}, {"fractions": (0.5,)},
                {"fractions": (0.5, 0.2, 1.0)}, {"tolerance": 1.0}, {"noise_multiple": -1}):
        with pytest.raises(ValueError):
            SearchConfig(**bad)
