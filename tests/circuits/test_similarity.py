"""Circuit similarity on hand-made masks, against values computed by hand."""

import json
import math

import numpy as np
import pytest

from tracker.circuits import CircuitGraph
from tracker.circuits.similarity import (
    jaccard,
    node_jaccard,
    node_mask,
    similarity_curves,
    weighted_jaccard,
)

# One layer, one head, parallel: 7 edges.
GRAPH = CircuitGraph(1, 1, True)


def _edges(*idx: int) -> np.ndarray:
    mask = np.zeros(GRAPH.n_edges, dtype=bool)
    mask[list(idx)] = True
    return mask


def test_the_small_graph_is_the_one_the_hand_values_assume() -> None:
    assert [e.name for e in GRAPH.edges] == [
        "input->L0H0.q", "input->L0H0.k", "input->L0H0.v", "input->mlp0",
        "input->logits", "L0H0->logits", "mlp0->logits"]


def test_jaccard_counts_shared_over_union() -> None:
    a = np.array([True, True, False, False])
    b = np.array([False, True, True, False])
    assert jaccard(a, b) == pytest.approx(1 / 3)
    assert jaccard(a, a) == 1.0
    assert jaccard(a, ~a) == 0.0


def test_an_empty_circuit_is_undefined_not_zero_or_one() -> None:
    empty, some = np.zeros(4, bool), np.array([True, False, False, False])
    assert math.isnan(jaccard(empty, some))
    assert math.isnan(jaccard(empty, empty))
    assert math.isnan(weighted_jaccard(empty, np.ones(4), some, np.ones(4)))
    assert math.isnan(node_jaccard(GRAPH, _edges(), _edges(5)))


def test_jaccard_rejects_non_boolean_or_mismatched_masks() -> None:
    with pytest.raises(ValueError, match="boolean"):
        jaccard(np.array([1, 0]), np.array([True, False]))
    with pytest.raises(ValueError, match="shape"):
        jaccard(np.ones(3, bool), np.ones(4, bool))


def test_weighted_jaccard_weighs_only_circuit_edges_by_absolute_score() -> None:
    mask_a = np.array([True, True, False, False])
    mask_b = np.array([False, True, True, False])
    # Inside: w_a = (2, 1, 0, 0), w_b = (0, 3, 4, 0); 5 and 9 lie outside their circuits.
    s_a = np.array([2.0, -1.0, 5.0, 0.0])
    s_b = np.array([9.0, 3.0, -4.0, 0.0])
    # min: (0, 1, 0) -> 1; max: (2, 3, 4) -> 9.
    assert weighted_jaccard(mask_a, s_a, mask_b, s_b) == pytest.approx(1 / 9)
    assert weighted_jaccard(mask_a, s_a, mask_a, s_a) == 1.0


def test_weighted_jaccard_with_equal_weights_is_the_jaccard() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random(50) < 0.3, rng.random(50) < 0.3
    ones = np.ones(50)
    assert weighted_jaccard(a, -ones, b, ones) == pytest.approx(jaccard(a, b))


def test_weighted_jaccard_without_weight_is_undefined() -> None:
    mask = np.array([True, False])
    assert math.isnan(weighted_jaccard(mask, np.array([0.0, 3.0]), mask, np.zeros(2)))


def test_node_sets_come_from_edge_endpoints() -> None:
    heads_path = _edges(0, 5)   # input->L0H0.q, L0H0->logits
    mlp_path = _edges(3, 6)     # input->mlp0, mlp0->logits
    both = _edges(5, 6)         # L0H0->logits, mlp0->logits
    names = [n.name for n in GRAPH.nodes]
    assert [names[i] for i in np.flatnonzero(node_mask(GRAPH, heads_path))] == ["L0H0"]
    assert [names[i] for i in np.flatnonzero(node_mask(GRAPH, heads_path, ends=True))] == [
        "input", "L0H0", "logits"]
    assert node_jaccard(GRAPH, heads_path, mlp_path) == 0.0
    # With the ends, {input, L0H0, logits} and {input, mlp0, logits} share two of four.
    assert node_jaccard(GRAPH, heads_path, mlp_path, ends=True) == pytest.approx(0.5)
    assert node_jaccard(GRAPH, heads_path, both) == pytest.approx(0.5)
    # input->logits alone touches no component.
    assert math.isnan(node_jaccard(GRAPH, _edges(4), both))
    with pytest.raises(ValueError, match="7 edges"):
        node_mask(GRAPH, np.ones(6, bool))


def test_curves_against_previous_and_final_checkpoint() -> None:
    steps = np.array([0, 10, 20, 40])
    masks = np.stack([_edges(), _edges(0, 5), _edges(0, 5, 6), _edges(5, 6)])
    scores = np.full((4, GRAPH.n_edges), 7.0)  # 7 only ever outside a circuit
    scores[1, [0, 5]] = 2.0
    scores[2, [0, 5, 6]] = [1.0, -3.0, 1.0]
    scores[3, [5, 6]] = 2.0
    curves = similarity_curves(GRAPH, steps, masks, scores)
    nan = np.nan
    np.testing.assert_allclose(curves.jaccard_previous, [nan, nan, 2 / 3, 2 / 3])
    np.testing.assert_allclose(curves.jaccard_final, [nan, 1 / 3, 2 / 3, 1.0])
    # Step 20 vs 10: min (1, 2, 0) = 3, max (2, 3, 1) = 6. Step 40 vs 20: min (0, 2, 1) = 3,
    # max (1, 3, 2) = 6. Step 10 vs 40: min (0, 2, 0) = 2, max (2, 2, 2) = 6.
    np.testing.assert_allclose(curves.weighted_previous, [nan, nan, 0.5, 0.5])
    np.testing.assert_allclose(curves.weighted_final, [nan, 1 / 3, 0.5, 1.0])
    # Nodes: {L0H0}, {L0H0, mlp0}, {L0H0, mlp0}.
    np.testing.assert_allclose(curves.node_previous, [nan, nan, 0.5, 1.0])
    np.testing.assert_allclose(curves.node_final, [nan, 0.5, 1.0, 1.0])
    body = json.loads(json.dumps(curves.as_dict()))
    assert body["steps"] == [0, 10, 20, 40] and body["jaccard_final"][1] == pytest.approx(1 / 3)


def test_curves_reject_bad_input() -> None:
    masks = np.zeros((2, GRAPH.n_edges), bool)
    with pytest.raises(ValueError, match="increasing"):
        similarity_curves(GRAPH, np.array([5, 5]), masks, np.zeros(masks.shape))
    with pytest.raises(ValueError, match="must both be"):
        similarity_curves(GRAPH, np.array([0, 1]), masks, np.zeros((2, 3)))
