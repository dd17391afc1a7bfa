"""Circuits over training (edge attribution patching).

The graph (:mod:`.graph`), a split-input forward that patches single edges
(:mod:`.split_forward`), tasks from data files (:mod:`.tasks`), edge scores
(:mod:`.attribution`), greedy circuits from the scores (:mod:`.search`), their faithfulness
(:mod:`.faithfulness`), IOI component roles (:mod:`.roles`) and role swaps over training
(:mod:`.role_swaps`).
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
from tracker.circuits.role_swaps import RoleSwap, SwapConfig, role_swaps
from tracker.circuits.roles import (
    IOIRoles,
    RoleConfig,
    RoleRow,
    ioi_roles,
    name_mover_scores,
    s_inhibition_scores,
)
from tracker.circuits.search import circuit_mask, circuit_nodes, greedy_order, head_mask
from tracker.circuits.split_forward import SplitOutput, split_forward

__all__ = ["FRACTIONS", "AttributionConfig", "CircuitGraph", "Edge", "Faithfulness",
           "IOIRoles", "Metric", "MinimalCircuit", "Node", "RoleConfig", "RoleRow", "RoleSwap",
           "SearchConfig", "SplitOutput", "SwapConfig", "circuit_mask", "circuit_metric",
           "circuit_nodes", "eap_ig_scores", "eap_scores", "exact_edge_scores",
           "faithfulness_curve", "fraction_sizes", "greedy_order", "head_mask", "ioi_roles",
           "minimal_circuit", "name_mover_scores", "role_swaps", "s_inhibition_scores",
           "split_forward"]
