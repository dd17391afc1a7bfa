"""Circuits from edge scores: the greedy order edges join a circuit in, and dead-node pruning.

A circuit is a set of edges; every other edge reads its sender's output on the corrupted prompt
(see :mod:`tracker.circuits.faithfulness`). Following Hanna et al. (2024, EAP-IG) the circuit
grows greedily from the logits: it starts as the logits node alone, and at each step takes the
edge of highest ``|score|`` among those whose receiver is already in the circuit, which puts the
edge's sender in too. So an edge into a component that nothing in the circuit reads waits until
that component joins, however high its score. Every component sends an edge to the logits, so
the order ends up holding every edge, and its prefixes are nested circuits.

A prefix can hold edges out of a component that reads nothing in the circuit (its inputs all
come later in the order). :func:`circuit_mask` prunes those, and edges into components whose
output reaches nothing, as the reference does. Pruning does not change what the circuit
computes: a component none of whose inputs are in the circuit reads only corrupted outputs and
so writes its corrupted output, the same as if its outgoing edges were patched; a component
whose outputs are all patched affects nothing.
"""

from __future__ import annotations

import heapq
from functools import lru_cache

import numpy as np

from tracker.circuits.graph import CircuitGraph, Node


@lru_cache(maxsize=8)
def edge_endpoints(graph: CircuitGraph) -> tuple[np.ndarray, np.ndarray]:
    """Return (sender, receiver) node indices of every edge, indices into ``graph.nodes``."""
    index = {node: i for i, node in enumerate(graph.nodes)}
    senders = np.array([index[e.sender] for e in graph.edges], dtype=np.int64)
    receivers = np.array([index[e.receiver] for e in graph.edges], dtype=np.int64)
    senders.flags.writeable = receivers.flags.writeable = False  # shared through the cache
    return senders, receivers


def greedy_order(graph: CircuitGraph, scores: np.ndarray) -> np.ndarray:
    """Return every edge index in the order the greedy search adds it to the circuit.

    Ties in ``|score|`` go to the edge that comes first in ``graph.edges``.

    Args:
        graph: The graph the scores are laid out on.
        scores: (n_edges,) edge scores in ``graph.edges`` order; their sign is ignored.

    Returns:
        (n_edges,) int64, a permutation of the edge indices.

    Raises:
        ValueError: If ``scores`` has the wrong length or holds NaN or infinity.
    """
    values = np.abs(np.asarray(scores, dtype=np.float64))
    if values.shape != (graph.n_edges,):
        raise ValueError(f"expected {graph.n_edges} scores, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("edge scores hold NaN or infinity")
    senders, receivers = edge_endpoints(graph)
    # Edges into each node, as contiguous runs of an edge index sorted by receiver.
    by_receiver = np.argsort(receivers, kind="stable")
    starts = np.searchsorted(receivers[by_receiver], np.arange(len(graph.nodes) + 1))
    keys = (-values).tolist()
    inside = np.zeros(len(graph.nodes), dtype=bool)
    heap: list[tuple[float, int]] = []

    def enter(node: int) -> None:
        inside[node] = True
        for e in by_receiver[starts[node]:starts[node + 1]].tolist():
            heapq.heappush(heap, (keys[e], e))

    enter(len(graph.nodes) - 1)  # the logits
    sender_list = senders.tolist()
    order = np.empty(graph.n_edges, dtype=np.int64)
    for step in range(graph.n_edges):
        _, e = heapq.heappop(heap)
        order[step] = e
        if not inside[sender_list[e]]:
            enter(sender_list[e])
    return order


def prune(graph: CircuitGraph, edges: np.ndarray) -> np.ndarray:
    """Drop edges out of components with no input in the circuit and into dead ends.

    Repeats until nothing changes. The input node needs no incoming edge and the logits no
    outgoing one.

    Args:
        graph: The graph.
        edges: (n_edges,) bool, the edges in the circuit.

    Returns:
        (n_edges,) bool, a subset of ``edges``.
    """
    senders, receivers = edge_endpoints(graph)
    n_nodes = len(graph.nodes)
    kept = np.asarray(edges, dtype=bool).copy()
    while True:
        fed = np.bincount(receivers[kept], minlength=n_nodes) > 0
        read = np.bincount(senders[kept], minlength=n_nodes) > 0
        fed[0] = read[n_nodes - 1] = True  # input, logits
        alive = kept & fed[senders] & read[receivers]
        if (alive == kept).all():
            return kept
        kept = alive


def circuit_mask(graph: CircuitGraph, order: np.ndarray, n_edges: int) -> np.ndarray:
    """Return the circuit made of the first ``n_edges`` edges of ``order``, pruned.

    Pruning (see :func:`prune`) can keep fewer than ``n_edges`` edges; it does not change what
    the circuit computes.

    Args:
        graph: The graph.
        order: Edge indices in the order they join, e.g. from :func:`greedy_order`.
        n_edges: How many edges of the order to take (0 to ``graph.n_edges``).

    Returns:
        (n_edges,) bool over ``graph.edges``.

    Raises:
        ValueError: If ``n_edges`` is out of range.
    """
    if not 0 <= n_edges <= graph.n_edges:
        raise ValueError(f"n_edges must be within 0..{graph.n_edges}, got {n_edges}")
    mask = np.zeros(graph.n_edges, dtype=bool)
    mask[np.asarray(order)[:n_edges]] = True
    return prune(graph, mask)


def circuit_nodes(graph: CircuitGraph, mask: np.ndarray) -> set[Node]:
    """Return the components that an edge of the circuit ``mask`` sends from or reads into."""
    senders, receivers = edge_endpoints(graph)
    used = np.union1d(senders[mask], receivers[mask])
    return {graph.nodes[i] for i in used.tolist()}


def head_mask(graph: CircuitGraph, mask: np.ndarray) -> np.ndarray:
    """Return (n_layers, n_heads) bool, True for the heads in the circuit ``mask``."""
    out = np.zeros((graph.n_layers, graph.n_heads), dtype=bool)
    for node in circuit_nodes(graph, mask):
        if node.kind == "head":
            out[node.layer, node.head] = True
    return out
