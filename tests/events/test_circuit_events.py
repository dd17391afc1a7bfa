"""Circuit series from a store: similarity curves, role table, role swaps as events."""

from pathlib import Path

import numpy as np
import pytest

from tracker.circuits import CircuitGraph
from tracker.events import find_events
from tracker.events.circuits import (
    circuit_graph,
    circuit_specs,
    circuit_tasks,
    first_steady,
    formation,
    role_swap_events,
    role_table,
    task_similarity,
)
from tracker.metric import Metric
from tracker.store import ProbeResult, SeriesStore, StepShard, consolidate, write_shard

GRAPH = CircuitGraph(2, 2, True)
STEPS = list(range(0, 1200, 100))  # 12 checkpoints
HASH = "0123456789abcdef"


def _vector(name: str, n: int) -> Metric:
    return Metric(name=name, kind="vector", shape=(n,), higher_is_mechanism=None)


def _head(name: str, threshold: float | None = None) -> Metric:
    return Metric(name=name, kind="head", higher_is_mechanism=True, threshold=threshold)


def _write(path: Path, circuit_at: int, mover: list[tuple[int, int]],
           induction: np.ndarray, graph: bool = True) -> SeriesStore:
    """Circuit = first 3 edges from checkpoint ``circuit_at`` (undefined before); the name
    mover label per checkpoint from ``mover``; the induction probe's scores as given."""
    n = GRAPH.n_edges
    for i, step in enumerate(STEPS):
        shard = StepShard("org/model", 10, step, step * 10, f"step{step}", f"h{step}")
        circuits = ProbeResult("circuits", 1, "{}", HASH)
        mask = np.full(n, np.nan) if i < circuit_at else (np.arange(n) < 3).astype(float)
        circuits.add(_vector("circuit_ioi_in_circuit", n), mask)
        circuits.add(_vector("circuit_ioi_edge_scores", n), np.linspace(1, 0, n))
        defined = i >= circuit_at
        scalar = Metric(name="circuit_ioi_faithfulness", kind="scalar")
        circuits.add(scalar, 0.85 if defined else np.nan)
        size = Metric(name="circuit_ioi_size", kind="scalar", higher_is_mechanism=None)
        circuits.add(size, 3.0 if defined else np.nan)
        heads = np.zeros((2, 2))
        heads[1, :] = 1.0 if i >= circuit_at else np.nan
        circuits.add(_head("circuit_ioi_heads", 0.5), heads)
        label = np.zeros((2, 2))
        label[mover[i]] = 1.0
        circuits.add(_head("circuit_ioi_name_mover", 0.5), label)
        circuits.static = {"edge_names": np.array([e.name for e in GRAPH.edges]),
                           "graph": np.array([2, 2, 1])} if graph else {}
        shard.results[("circuits", circuits.key)] = circuits
        probe = ProbeResult("induction", 3, "{}", HASH)
        probe.add(_head("induction_score", 0.4), induction[i])
        shard.results[("induction", probe.key)] = probe
        write_shard(path, shard)
    consolidate(path)
    return SeriesStore(path)


@pytest.fixture
def store(tmp_path: Path) -> SeriesStore:
    mover = [(1, 0)] * 6 + [(1, 1)] * 6  # the role passes L1H0 -> L1H1 at step 600
    induction = np.zeros((12, 2, 2))
    induction[:, 1, 1] = 0.9  # a circuit head once the circuit exists
    induction[:, 0, 0] = 0.9  # never a circuit head
    return _write(tmp_path / "s.h5", circuit_at=4, mover=mover, induction=induction)


def test_similarity_is_nan_without_a_circuit_and_one_once_it_is_stable(store) -> None:
    assert circuit_tasks(store) == ["ioi"]
    assert circuit_graph(store) == GRAPH
    curves = task_similarity(store, "ioi")
    assert np.isnan(curves.jaccard_final[:4]).all()
    assert curves.jaccard_final[4:].tolist() == [1.0] * 8
    assert np.isnan(curves.jaccard_previous[4]) and curves.jaccard_previous[5] == 1.0


def test_role_table_joins_probe_scores_with_circuit_heads(store) -> None:
    table = role_table(store, "ioi")
    assert set(table) == {"name_mover", "induction"}
    assert table["induction"][:, 1, 1].tolist() == [False] * 4 + [True] * 8
    assert not table["induction"][:, 0, 0].any()  # scores high, but never in the circuit
    assert table["name_mover"][5, 1, 0] and table["name_mover"][6, 1, 1]


def test_a_handed_over_role_is_one_role_swap_event(store) -> None:
    events = role_swap_events(store)
    assert [(e.kind, e.metric, e.midpoint_step, e.members, e.layer, e.head)
            for e in events] == [("role_swap", "circuit_ioi_name_mover", 600.0,
                                  "L1H0->L1H1", 1, 1)]
    assert events[0].midpoint_tokens == 6000.0
    found = find_events(store)
    assert [e for e in found if e.kind == "role_swap"] == events


def test_a_flickering_role_and_a_constant_circuit_give_no_events(tmp_path: Path) -> None:
    mover = [(1, 0), (1, 1)] * 6  # flicker every checkpoint: never steady
    store = _write(tmp_path / "f.h5", circuit_at=0, mover=mover, induction=np.zeros((12, 2, 2)))
    assert role_swap_events(store) == []
    specs = list(circuit_specs(store))
    assert [s.metric for s in specs] == ["circuit_ioi_jaccard_final", "circuit_ioi_weighted_final"]
    assert np.isnan(specs[0].values[-1]) and (specs[0].values[:-1] == 1.0).all()
    found = [e for e in find_events(store) if e.metric.startswith("circuit_ioi_")]
    assert found == []


def test_formation_dates_the_steady_circuit_in_steps_and_tokens(store) -> None:
    found = formation(store, "ioi")
    assert (found.defined_step, found.settled_step) == (400, 400)
    assert found.defined_tokens == 4000.0 and found.final_size == 3.0


def test_first_steady_ignores_early_flicker() -> None:
    steps = np.arange(6) * 10
    assert first_steady(steps, np.array([1, 0, 1, 1, 1, 1], bool)) == 20
    assert first_steady(steps, np.array([1, 1, 1, 1, 1, 0], bool)) is None
    assert first_steady(steps, np.ones(6, bool)) == 0


def test_a_store_without_a_circuit_graph_has_no_circuit_events(tmp_path: Path) -> None:
    """The circuits probe builds no graph for some architectures (all NaN, no constants):
    events still run, with no circuit series and no role swaps."""
    nan = np.full((12, 2, 2), np.nan)
    store = _write(tmp_path / "s.h5", circuit_at=12, mover=[(1, 0)] * 12, induction=nan,
                   graph=False)
    assert circuit_tasks(store) == [] and role_swap_events(store) == []
    assert list(circuit_specs(store)) == []
    assert all(e.probe != "circuits" for e in find_events(store))
