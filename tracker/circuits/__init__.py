"""Circuits over training (edge attribution patching): the computational graph first."""

from tracker.circuits.graph import CircuitGraph, Edge, Node

__all__ = ["CircuitGraph", "Edge", "Node"]
