"""Circuits over training (edge attribution patching).

The graph (:mod:`.graph`), a split-input forward that patches single edges
(:mod:`.split_forward`), edge scores (:mod:`.attribution`), greedy circuits from the scores
(:mod:`.search`) and their faithfulness (:mod:`.faithfulness`).
"""

from tracker.circuits.attribution import (
    AttributionConfig,
    Metric,
    eap_ig_scores,
    eap_scores,
    exact_edge_scores,
)
from tracker.circuits.faithfulness import (
    FRACTIONS,
    Faithfulness,
    MinimalCircuit,
    SearchConfig,
    circuit_metric,
    faithfulness_curve,
    fraction_sizes,
    minimal_circuit,
)
from tracker.circuits.graph import CircuitGraph, Edge, Node
from tracker.circuits.search import circuit_mask, circuit_nodes, greedy_order, head_mask
from tracker.circuits.split_forward import SplitOutput, split_forward

__all__ = ["FRACTIONS", "AttributionConfig", "CircuitGraph", "Edge", "Faithfulness",
           "Metric", "MinimalCircuit", "Node", "SearchConfig", "SplitOutput", "circuit_mask",
           "circuit_metric", "circuit_nodes", "eap_ig_scores", "eap_scores",
           "exact_edge_scores", "faithfulness_curve", "fraction_sizes", "greedy_order",
           "head_mask", "minimal_circuit", "split_forward"]
