"""IOI roles on the planted IOI model (a name mover, an S-inhibition head, decoys)."""

import numpy as np
import pytest

from tests.support.planted_ioi import ioi_model, ioi_task
from tracker.circuits import CircuitGraph
from tracker.circuits.roles import (
    IOIRoles,
    RoleConfig,
    ioi_positions,
    ioi_roles,
    name_mover_labels,
    name_mover_scores,
    s_inhibition_labels,
    s_inhibition_scores,
)
from tracker.circuits.tasks import CircuitTask
from tracker.models.gpt_neox import GPTNeoXAdapter


@pytest.fixture(scope="module")
def planted() -> tuple[GPTNeoXAdapter, CircuitGraph, CircuitTask]:
    model = ioi_model()
    return (GPTNeoXAdapter(model.model), CircuitGraph.from_config(model.model.config),
            ioi_task(model))


@pytest.fixture(scope="module")
def roles(planted: tuple[GPTNeoXAdapter, CircuitGraph, CircuitTask]) -> IOIRoles:
    adapter, graph, task = planted
    return ioi_roles(adapter, graph, task, np.ones(graph.n_edges, dtype=bool))


def _circuit(graph: CircuitGraph, names: set[str]) -> np.ndarray:
    mask = np.array([e.name in names for e in graph.edges])
    assert mask.sum() == len(names)
    return mask


def test_positions_of_io_s1_s2(planted: tuple[GPTNeoXAdapter, CircuitGraph, CircuitTask]
                               ) -> None:
    """Example 0: <bos> When Mary and John went to the store , Mary gave a book to."""
    task = planted[2]
    pos = ioi_positions(task)
    assert pos.n_dropped == 0 and len(pos.rows) == task.n_examples
    assert (int(pos.io[0]), int(pos.s1[0]), int(pos.s2[0]), int(pos.end[0])) == (4, 2, 10, 14)
    assert (int(pos.io[1]), int(pos.s1[1])) == (2, 4)
    one_s = CircuitTask("ioi", "logit_diff", task.clean, task.corrupt, task.last, task.answers,
                        ((task.answers[0][0],),) + task.wrongs[1:])
    assert ioi_positions(one_s).n_dropped == 1  # example 0's "S" is now IO: seen once


def test_the_planted_name_mover_passes_all_three_tests(roles: IOIRoles) -> None:
    nm = roles.name_movers
    assert np.argwhere(nm.label).tolist() == [[3, 0]]
    # L3H0 and L3H2 copy names (identity OV on them); zero heads and L3H1 (no OV) copy none.
    assert nm.copy_rate[3].tolist() == [1.0, 0.0, 1.0]
    assert nm.copy_rate[:3].max() == 0.0
    # L3H1 attends like L3H0 but fails the copy test; L3H2 copies but attends to S2.
    assert nm.attn_io[3, 0] > 0.99 and nm.attn_io[3, 1] > 0.99
    assert nm.attn_s2[3, 2] > 0.99 and nm.attn_io[3, 2] < 0.01
    assert nm.to_logits.all()


def test_the_planted_s_inhibition_head_moves_attention_from_io_to_s(roles: IOIRoles) -> None:
    si = roles.s_inhibition
    assert np.argwhere(si.label).tolist() == [[2, 0]]
    # Patched, L3H0 no longer tells S from IO: about half its attention leaves IO for S1.
    assert si.io_shift[2, 0] < -0.4
    assert si.s1_shift[2, 0] + si.s2_shift[2, 0] > 0.4
    # Heads before the name mover's layer are candidates (all edges are in the circuit);
    # the others' output does not change under the corruption (or does not reach L3H0's query).
    assert si.candidate[:3].all() and not si.candidate[3].any()
    others = np.abs(si.io_shift[:3]).copy()
    others[2, 0] = 0.0
    assert others.max() < 1e-3
    assert [(r.role, r.head) for r in roles.rows()] == [("name_mover", "L3H0"),
                                                         ("s_inhibition", "L2H0")]


def test_a_name_mover_needs_its_edge_to_the_logits_in_the_circuit(
        planted: tuple[GPTNeoXAdapter, CircuitGraph, CircuitTask]) -> None:
    adapter, graph, task = planted
    circuit = _circuit(graph, {"L3H2->logits", "L2H0->L3H0.q"})
    nm = name_mover_scores(adapter, graph, task, circuit)
    assert not nm.label.any()
    assert nm.to_logits.sum() == 1 and nm.to_logits[3, 2]
    with pytest.raises(ValueError, match="circuit mask"):
        name_mover_scores(adapter, graph, task, circuit[:-1])


def test_an_s_inhibition_head_needs_an_in_circuit_edge_into_a_name_movers_query(
        planted: tuple[GPTNeoXAdapter, CircuitGraph, CircuitTask]) -> None:
    adapter, graph, task = planted
    movers = np.zeros((graph.n_layers, graph.n_heads), dtype=bool)
    movers[3, 0] = True
    circuit = _circuit(graph, {"L1H0->L3H0.q", "L2H0->L3H0.k", "L3H0->logits"})
    si = s_inhibition_scores(adapter, graph, task, circuit, movers)
    assert np.argwhere(si.candidate).tolist() == [[1, 0]]
    assert not si.label.any()
    assert abs(si.io_shift[1, 0]) < 1e-3


def test_role_config_rejects_impossible_thresholds() -> None:
    with pytest.raises(ValueError):
        RoleConfig(min_copy_rate=1.5)
    with pytest.raises(ValueError):
        RoleConfig(top_k=0)


def test_each_name_mover_test_can_fail_alone() -> None:
    """Head 0 passes; 1 lacks its logit edge, 2 copies 5% of names, 3 ties IO with S1,
    4 prefers IO but barely attends to it (0.05 < 0.1)."""
    to_logits = np.array([[True, False, True, True, True]])
    copy_rate = np.array([[0.5, 0.5, 0.05, 0.5, 0.5]])
    io = np.array([[0.6, 0.6, 0.6, 0.4, 0.05]])
    s1 = np.array([[0.2, 0.2, 0.2, 0.4, 0.01]])
    s2 = np.array([[0.1, 0.1, 0.1, 0.1, 0.01]])
    label = name_mover_labels(to_logits, copy_rate, io, s1, s2, RoleConfig())
    assert label.tolist() == [[True, False, False, False, False]]
    loose = RoleConfig(min_copy_rate=0.05, min_attn_io=0.05, min_attn_margin=0.0)
    assert name_mover_labels(to_logits, copy_rate, io, s1, s2, loose).tolist() == [
        [True, False, True, False, True]]
    # Head 0 leads S1 by 0.4, head 4 by 0.04: the default margin (0.05) keeps only head 0.
    margin = RoleConfig(min_copy_rate=0.05, min_attn_io=0.05)
    assert name_mover_labels(to_logits, copy_rate, io, s1, s2, margin).tolist() == [
        [True, False, True, False, False]]


def test_an_s_inhibition_head_must_move_attention_both_ways() -> None:
    """Shifts (IO, S1, S2): pass; IO falls but S does not gain; S gains from elsewhere; NaN."""
    io = np.array([-0.05, -0.05, 0.0, np.nan])
    s1 = np.array([0.03, -0.01, 0.03, np.nan])
    s2 = np.array([0.01, 0.0, 0.01, np.nan])
    assert s_inhibition_labels(io, s1, s2, RoleConfig()).tolist() == [True, False, False, False]
    assert s_inhibition_labels(io, s1, s2, RoleConfig(min_shift=0.05)).tolist() == [
        False, False, False, False]
    with pytest.raises(ValueError):
        RoleConfig(min_attn_io=1.01)
