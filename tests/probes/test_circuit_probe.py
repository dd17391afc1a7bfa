"""The circuit probe on the planted IOI model: circuit, faithfulness, roles, storage."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.planted_archs import PLANTED_ARCHS, planted_induction
from tests.support.planted_ioi import NAMES, TEMPLATE, ioi_model
from tests.support.planted_models import FILLERS
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


def _induction_task_file(tmp_path: Path, n: int = 6) -> Path:
    """A B C D A B C -> D against a first half with no repeat, over the filler words."""
    examples = []
    for k in range(n):
        w = [FILLERS[(3 * k + j) % len(FILLERS)] for j in range(9)]
        examples.append({"clean": " ".join(w[:4] + w[:3]),
                         "corrupted": " ".join(w[4:8] + w[:3]),
                         "answers": [" " + w[3]], "wrongs": [" " + w[8]]})
    path = tmp_path / "induction_planted.json"
    path.write_text(json.dumps({"name": "induction_planted", "metric": "logit_diff",
                                "examples": examples}))
    return path


@pytest.mark.parametrize("model_type", PLANTED_ARCHS)
def test_the_probe_finds_the_planted_induction_circuit_beyond_gpt_neox(
        tmp_path: Path, model_type: str) -> None:
    """GPT-2, Llama and OLMo 2 (version 2 of the probe gave NaN for all but GPT-NeoX).

    Measured: circuits of 5, 5 and 4 edges at faithfulness 1.0 (clean logit diff 11.2, 13.9
    and 8.0 against 0.0 corrupted), holding exactly the planted heads L0H0 and L1H0."""
    planted = planted_induction(model_type)
    task = str(_induction_task_file(tmp_path))
    probe = make_probes(["circuits"], circuits={
        "tasks": [task], "role_task": "", "n_examples": 6, "ig_steps": 5})[0]
    results, _ = run_probes([probe], planted.model, planted.tokenizer, step=0)
    (result,) = results.values()
    values = {m: np.asarray(v) for m, v in result.values.items()}
    p = "circuit_induction_planted_"
    graph = CircuitGraph(2, 2, parallel=False)
    assert values[p + "edge_scores"].shape == (graph.n_edges,)
    assert all(np.isfinite(v).all() for v in values.values())
    assert values[p + "n_examples"] == 6
    assert values[p + "clean_metric"] > values[p + "corrupted_metric"] + 1
    assert values[p + "faithfulness"] >= 0.8 and 1 <= values[p + "size"] <= 8
    assert np.argwhere(values[p + "heads"] > 0.5).tolist() == [[0, 0], [1, 0]]  # prev, induction
