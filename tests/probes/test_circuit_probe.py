"""The circuit probe on the planted IOI model: circuit, faithfulness, roles, storage."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.planted_ioi import NAMES, TEMPLATE, ioi_model
from tracker.circuits import CircuitGraph
from tracker.labels import HeadId
from tracker.probes import make_probes
from tracker.runner.sweep import run_probes
from tracker.store import SeriesStore, StepShard, consolidate, write_shard


def _task_file(tmp_path: Path, n: int = 8) -> Path:
    """The planted template as a task file (ABC corruption, S alternating)."""
    examples = []
    for k in range(n):
        a, b, c, d = (NAMES[(k + j) % len(NAMES)] for j in (0, 1, 3, 5))
        io, s = (b, a) if k % 2 == 0 else (a, b)
        examples.append({"clean": TEMPLATE.format(A=a, B=b, S=s),
                         "corrupted": TEMPLATE.format(A=c, B=d, S=s),
                         "answers": [" " + io], "wrongs": [" " + s]})
    path = tmp_path / "ioi_planted.json"
    path.write_text(json.dumps({"name": "ioi_planted", "metric": "logit_diff",
                                "examples": examples}))
    return path


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[SeriesStore, CircuitGraph]:
    tmp = tmp_path_factory.mktemp("circuits")
    planted = ioi_model()
    task = str(_task_file(tmp))
    probe = make_probes(["circuits"], circuits={
        "tasks": [task], "role_task": task, "n_examples": 8, "ig_steps": 5})[0]
    results, _ = run_probes([probe], planted.model, planted.tokenizer, step=0)
    store = tmp / "s.h5"
    shard = StepShard("planted/ioi", 1, 0, 0, "step0", "h0", results)
    write_shard(store, shard)
    consolidate(store)
    return SeriesStore(store), CircuitGraph.from_config(planted.model.config)


def _value(store: SeriesStore, name: str) -> np.ndarray:
    return store.metric("circuits", f"circuit_ioi_planted_{name}")[0]


def test_the_planted_circuit_is_small_faithful_and_holds_the_planted_heads(stored) -> None:
    store, graph = stored
    size, faith = float(_value(store, "size")), float(_value(store, "faithfulness"))
    assert 1 <= size < 0.2 * graph.n_edges and faith >= 0.8
    assert _value(store, "in_circuit").sum() == size
    heads = {HeadId(int(layer), int(h)).label for layer, h in zip(
        *np.nonzero(_value(store, "heads") > 0.5), strict=True)}
    assert {"L3H0", "L2H0"} <= heads
    assert _value(store, "curve")[-1] == pytest.approx(1.0, abs=1e-4)
    assert _value(store, "clean_metric") > _value(store, "corrupted_metric")


def test_roles_of_the_planted_heads_are_stored(stored) -> None:
    store, _ = stored
    movers = np.argwhere(_value(store, "name_mover") > 0.5).tolist()
    inhibition = np.argwhere(_value(store, "s_inhibition") > 0.5).tolist()
    assert movers == [[3, 0]] and inhibition == [[2, 0]]
    assert _value(store, "copy_rate")[3, 0] == pytest.approx(1.0)


def test_edge_names_are_stored_once_in_edge_vector_order(stored) -> None:
    store, graph = stored
    names = store.static("circuits", "edge_names")
    assert names.tolist() == [e.name for e in graph.edges]
    scores = _value(store, "edge_scores")
    assert scores.shape == (graph.n_edges,)
    top = names[np.argsort(-np.abs(scores))[:5]].tolist()
    assert any(name.startswith("L3H0->logits") for name in top)
