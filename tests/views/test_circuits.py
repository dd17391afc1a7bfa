"""The circuit read model: role spells, drawing checkpoints, live similarity, what is plotted."""

import numpy as np
import pytest

from tests.support.report_stores import (
    CIRCUIT_STEPS,
    CIRCUIT_TOKENS_PER_STEP,
    circuit_shards,
    circuit_store,
    planted_store,
)
from tracker.events.circuits import circuit_graph, task_similarity
from tracker.metric import Metric
from tracker.store import SeriesStore
from tracker.views.circuits import (
    PreviousCircuits,
    drawing_checkpoints,
    probe_target,
    role_spells,
    task_circuits,
)
from tracker.views.metrics import (
    default_metrics,
    drawn_by_circuits,
    edge_vector,
    readings_from_shard,
    readings_from_store,
    step_aggregates,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return SeriesStore(circuit_store(tmp_path_factory.mktemp("c") / "c.h5"))


def test_role_spells_keep_only_changes_of_holders():
    held = np.zeros((6, 2, 3), bool)
    held[2:4, 1, 0] = True
    held[4:, 1, 1] = True
    held[5, 0, 2] = True
    steps = np.array([0, 1, 2, 4, 8, 16])
    spells = role_spells(steps, steps * 10, held, "name_mover")
    assert [(s.first_step, s.last_step, s.n_checkpoints, s.heads) for s in spells] == [
        (0, 1, 2, ()), (2, 4, 2, ("L1H0",)), (8, 8, 1, ("L1H1",)), (16, 16, 1, ("L0H2", "L1H1"))]
    assert spells[1].first_tokens == 20 and spells[1].last_tokens == 40
    assert sum(s.n_checkpoints for s in spells) == 6
    with pytest.raises(ValueError, match="held must be"):
        role_spells(steps, steps, held[:, 0], "x")


def test_drawing_checkpoints_are_log_spaced_among_those_with_a_circuit():
    tokens = np.array([0, 10, 20, 40, 80, 160, 320, 640, 1280])
    defined = np.array([False, False, True, True, True, True, True, True, False])
    # The last checkpoint has no circuit: the last one with a circuit closes the list.
    assert drawing_checkpoints(tokens, defined, 4) == [2, 4, 5, 7]
    assert drawing_checkpoints(tokens, defined, 2) == [2, 7]
    assert drawing_checkpoints(tokens, np.zeros(9, bool)) == []


def test_task_circuits_reads_the_planted_store(store):
    view = task_circuits(store, "ioi")
    assert view.defined.tolist() == [False] * 2 + [True] * 6
    assert view.size.tolist()[2:] == [4.0] * 6 and np.isnan(view.size[:2]).all()
    assert view.target == pytest.approx(0.8) == probe_target(store)
    assert set(view.roles) == {"name_mover", "s_inhibition"}
    assert [(e.members, e.midpoint_step) for e in view.swaps] == [("L1H0->L1H1", 160.0)]
    assert view.title(7) == "ioi circuit · step 640 (640K tok, faithfulness 0.87)"
    assert view.title(0) == "ioi circuit · step 0 (0 tok)"


def test_live_similarity_to_previous_equals_the_stored_curves(store):
    live = PreviousCircuits(circuit_graph(store))
    rows = [live.update(readings_from_shard(shard)) for shard in circuit_shards()]
    curves = task_similarity(store, "ioi")
    for name in ("jaccard_previous", "weighted_previous", "node_previous"):
        key = f"circuits/circuit_ioi_{name}"
        expected = getattr(curves, name)
        assert [row.get(key, np.nan) for row in rows] == pytest.approx(
            expected.tolist(), nan_ok=True)
    assert rows[4]["circuits/circuit_ioi_jaccard_previous"] == pytest.approx(1 / 3)
    assert rows[2] == {}  # the first circuit has no previous one to compare with
    # A checkpoint without the circuit probe breaks the chain as a stored NaN would.
    readings = readings_from_store(store, 5)
    assert live.update([]) == {}
    assert live.update(readings) == {}
    # Without a graph, the node measure is left out.
    bare = PreviousCircuits()
    bare.update(readings_from_store(store, 4))
    assert set(bare.update(readings)) == {"circuits/circuit_ioi_jaccard_previous",
                                          "circuits/circuit_ioi_weighted_previous"}


def test_per_edge_vectors_are_not_aggregated_and_block_metrics_not_plotted(store, tmp_path):
    infos = {i.name: i for i in store.metric_infos("circuits")}
    assert edge_vector(infos["circuit_ioi_edge_scores"]) == ("ioi", "edge_scores")
    assert edge_vector(infos["circuit_ioi_in_circuit"]) == ("ioi", "in_circuit")
    assert edge_vector(infos["circuit_ioi_curve"]) is None
    assert edge_vector(Metric(probe="other", name="circuit_x_in_circuit", kind="vector",
                              shape=(3,))) is None
    row = step_aggregates(readings_from_store(store, 7))
    assert not [k for k in row if "edge_scores" in k or "in_circuit" in k]
    assert row["circuits/circuit_ioi_size"] == 4.0
    assert row["circuits/circuit_ioi_curve/max"] == 1.0
    plotted = {i.name for i in default_metrics(store)}
    assert plotted == {"circuit_ioi_heads", "circuit_ioi_clean_metric"}
    assert drawn_by_circuits(infos["circuit_ioi_faithfulness_ratio"])
    assert not drawn_by_circuits(infos["circuit_ioi_clean_metric"])
    plain = SeriesStore(planted_store(tmp_path / "p.h5", steps=CIRCUIT_STEPS[:3]))
    assert len(default_metrics(plain)) == 3  # two head metrics and a scalar, as before
    assert CIRCUIT_TOKENS_PER_STEP == store.tokens_per_step
