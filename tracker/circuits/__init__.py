"""Circuits over training (edge attribution patching): the graph and edge attribution."""

from tracker.circuits.attribution import (
    AttributionConfig,
    Metric,
    eap_ig_scores,
    eap_scores,
    exact_edge_scores,
)
from tracker.circuits.graph import CircuitGraph, Edge, Node
from tracker.circuits.split_forward import SplitOutput, split_forward

__all__ = ["AttributionConfig", "CircuitGraph", "Edge", "Metric", "Node", "SplitOutput",
           "eap_ig_scores", "eap_scores", "exact_edge_scores", "split_forward"]

from tracker.circuits.role_swaps import RoleSwap, SwapConfig, role_swaps  # noqa: E402
from tracker.circuits.roles import (  # noqa: E402
    IOIRoles,
    RoleConfig,
    RoleRow,
    ioi_roles,
    name_mover_scores,
    s_inhibition_scores,
)

__all__ += ["IOIRoles", "RoleConfig", "RoleRow", "RoleSwap", "SwapConfig", "ioi_roles",
            "name_mover_scores", "role_swaps", "s_inhibition_scores"]
