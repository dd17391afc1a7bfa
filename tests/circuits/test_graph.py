from types import SimpleNamespace

import pytest
from transformers import GPT2Config, GPTNeoXConfig

from tracker.circuits import CircuitGraph, Edge, Node


@pytest.mark.parametrize(("config", "edges"), [
    (GPTNeoXConfig(num_hidden_layers=6, num_attention_heads=8, hidden_size=512,
                   use_parallel_residual=True), 3580),      # pythia-70m's shape
    (GPTNeoXConfig(num_hidden_layers=12, num_attention_heads=12, hidden_size=768,
                   use_parallel_residual=True), 32347),     # pythia-160m's shape
    (GPT2Config(n_layer=6, n_head=8, n_embd=512), 3628),    # sequential blocks
])
def test_reference_edge_counts_from_configs_alone(config, edges: int) -> None:
    assert CircuitGraph.from_config(config).n_edges == edges


def test_parallel_mlp_does_not_read_its_own_layers_heads() -> None:
    par, seq = CircuitGraph(2, 2, parallel=True), CircuitGraph(2, 2, parallel=False)
    mlp1 = Node(1, "mlp")
    assert [n.name for n in par.senders(mlp1)] == ["input", "L0H0", "L0H1", "mlp0"]
    assert [n.name for n in seq.senders(mlp1)] == ["input", "L0H0", "L0H1", "mlp0", "L1H0",
                                                   "L1H1"]
    # Heads never read their own layer, in either kind of block.
    assert [n.name for n in seq.senders(Node(1, "head", 0))] == ["input", "L0H0", "L0H1", "mlp0"]


def test_heads_read_through_q_k_and_v_and_names_are_the_house_labels() -> None:
    graph = CircuitGraph(1, 1, parallel=True)
    assert [e.name for e in graph.edges] == [
        "input->L0H0.q", "input->L0H0.k", "input->L0H0.v", "input->mlp0",
        "input->logits", "L0H0->logits", "mlp0->logits",
    ]
    assert graph.edges[0] == Edge(Node(-1, "input"), Node(0, "head", 0), "q")


def test_a_config_without_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="no layer or head count"):
        CircuitGraph.from_config(SimpleNamespace(model_type="mystery"))
