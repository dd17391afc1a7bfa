"""How alike two circuits are, and how a task's circuit moves over training.

A circuit is a boolean mask over ``graph.edges`` (True = the edge is in the circuit); its
scores are the attribution scores of every edge (one float per ``graph.edges`` entry). Three
measures, each in [0, 1] and 1 for identical circuits:

* **Jaccard** of the edge sets A and B: ``|A & B| / |A | B|``.
* **Weighted Jaccard** (Tigges et al. 2024, *LLM circuit analyses are consistent across
  training and scale*): every edge weighs its absolute score inside its own circuit and 0
  outside it, ``w_a = |s_a| * [e in A]`` and ``w_b = |s_b| * [e in B]``; the similarity is
  ``sum_e min(w_a, w_b) / sum_e max(w_a, w_b)`` over the union ``A | B`` (edges outside the
  union weigh 0 in both and add nothing). An edge in one circuit only adds its weight to the
  denominator and nothing to the numerator, so with equal weights everywhere this is the plain
  Jaccard; the weights make a swap of weak edges cost little and a swap of strong ones much.
  Absolute values, because an edge that hurts the task (negative score) is as much part of
  the mechanism as one that helps.
* **Node Jaccard**: Jaccard of the components the two circuits touch, a node being in a
  circuit when it sends or receives one of its edges. The input and logits nodes are left out
  by default: every circuit that explains anything touches both, and counting them would pull
  every pair of circuits towards 1.

**Undefined is NaN, not 0 or 1.** An empty circuit (an all-False mask, which a search gives
when the model cannot do the task yet) is not a circuit that shares nothing with the other
one (0) nor one that equals another empty one (1): there is no mechanism to compare. Every
measure involving an empty circuit is NaN, and the weighted Jaccard is NaN too when all
weights in the union are 0 (the scores carry no weight to compare). Curves plotted over
training then show a gap where no circuit exists instead of a misleading drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tracker.circuits.graph import CircuitGraph


def _mask(mask: np.ndarray, name: str) -> np.ndarray:
    out = np.asarray(mask)
    if out.dtype != np.bool_:
        raise ValueError(f"{name} must be a boolean mask, got dtype {out.dtype}")
    return out


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two membership masks (edges or nodes).

    Args:
        a: (N,) boolean membership of the first circuit.
        b: (N,) boolean membership of the second circuit.

    Returns:
        ``|a & b| / |a | b|``; NaN when either mask is empty (see the module docstring).

    Raises:
        ValueError: If the masks are not boolean or differ in shape.
    """
    a, b = _mask(a, "a"), _mask(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} and {b.shape}")
    if not a.any() or not b.any():
        return float("nan")
    return float((a & b).sum() / (a | b).sum())


def weighted_jaccard(mask_a: np.ndarray, scores_a: np.ndarray,
                     mask_b: np.ndarray, scores_b: np.ndarray) -> float:
    """Weighted Jaccard of two circuits, each edge weighing its absolute score in its circuit.

    ``sum min(w_a, w_b) / sum max(w_a, w_b)`` with ``w = |score| * mask``, over the union of
    the two circuits' edges (the module docstring gives the reasoning).

    Args:
        mask_a: (E,) boolean edge membership of the first circuit.
        scores_a: (E,) edge scores the first circuit was found with.
        mask_b: (E,) boolean edge membership of the second circuit.
        scores_b: (E,) edge scores of the second circuit.

    Returns:
        The similarity in [0, 1]; NaN when either circuit is empty or every weight in the
        union is 0.

    Raises:
        ValueError: If masks are not boolean or the four arrays differ in shape.
    """
    mask_a, mask_b = _mask(mask_a, "mask_a"), _mask(mask_b, "mask_b")
    s_a, s_b = np.asarray(scores_a, np.float64), np.asarray(scores_b, np.float64)
    if not mask_a.shape == mask_b.shape == s_a.shape == s_b.shape:
        raise ValueError(f"masks and scores differ in shape: {mask_a.shape}, {s_a.shape}, "
                         f"{mask_b.shape}, {s_b.shape}")
    if not mask_a.any() or not mask_b.any():
        return float("nan")
    w_a, w_b = np.abs(s_a) * mask_a, np.abs(s_b) * mask_b
    union = mask_a | mask_b
    top = np.maximum(w_a, w_b)[union].sum()
    if top == 0:
        return float("nan")
    return float(np.minimum(w_a, w_b)[union].sum() / top)


@lru_cache(maxsize=16)
def _endpoints(graph: CircuitGraph) -> tuple[np.ndarray, np.ndarray]:
    """(E,) node index (in ``graph.nodes``) of every edge's sender and receiver."""
    index = {node: i for i, node in enumerate(graph.nodes)}
    senders = np.array([index[e.sender] for e in graph.edges], dtype=np.intp)
    receivers = np.array([index[e.receiver] for e in graph.edges], dtype=np.intp)
    return senders, receivers


def node_mask(graph: CircuitGraph, edge_mask: np.ndarray, ends: bool = False) -> np.ndarray:
    """Return the nodes a circuit touches: senders and receivers of its edges.

    Args:
        graph: The graph the mask is over.
        edge_mask: (E,) boolean, in ``graph.edges`` order.
        ends: Keep the input and logits nodes (left out by default: every circuit has them).

    Returns:
        (len(graph.nodes),) boolean, in ``graph.nodes`` order.

    Raises:
        ValueError: If the mask is not boolean or not one entry per edge.
    """
    edge_mask = _mask(edge_mask, "edge_mask")
    if edge_mask.shape != (graph.n_edges,):
        raise ValueError(f"edge mask of shape {edge_mask.shape} for a graph of "
                         f"{graph.n_edges} edges")
    senders, receivers = _endpoints(graph)
    out = np.zeros(len(graph.nodes), dtype=bool)
    out[senders[edge_mask]] = True
    out[receivers[edge_mask]] = True
    if not ends:
        out[[i for i, n in enumerate(graph.nodes) if n.kind in ("input", "logits")]] = False
    return out


def node_jaccard(graph: CircuitGraph, a: np.ndarray, b: np.ndarray, ends: bool = False
                 ) -> float:
    """Jaccard of the node sets of two circuits given as edge masks (see :func:`node_mask`).

    Returns:
        The similarity; NaN when either circuit has no edge. A circuit whose only edge runs
        input -> logits touches no component: with ``ends=False`` its node set is empty and
        the similarity is NaN too.
    """
    a, b = _mask(a, "a"), _mask(b, "b")
    if not a.any() or not b.any():
        return float("nan")
    return jaccard(node_mask(graph, a, ends), node_mask(graph, b, ends))


@dataclass(frozen=True)
class SimilarityCurves:
    """Per checkpoint, similarity of its circuit to the previous and to the final checkpoint.

    Every array is (S,) float64 aligned with ``steps``; NaN where undefined: an empty circuit
    at either end, and the first step's ``*_previous`` (it has no previous checkpoint).

    Attributes:
        steps: (S,) training steps, increasing.
        jaccard_previous: Edge Jaccard with the previous checkpoint.
        weighted_previous: Weighted Jaccard with the previous checkpoint.
        node_previous: Node Jaccard with the previous checkpoint.
        jaccard_final: Edge Jaccard with the last checkpoint.
        weighted_final: Weighted Jaccard with the last checkpoint.
        node_final: Node Jaccard with the last checkpoint.
    """

    steps: np.ndarray
    jaccard_previous: np.ndarray
    weighted_previous: np.ndarray
    node_previous: np.ndarray
    jaccard_final: np.ndarray
    weighted_final: np.ndarray
    node_final: np.ndarray

    def as_dict(self) -> dict[str, list[float]]:
        """JSON-ready lists: steps as ints, similarities as floats (NaN stays NaN)."""
        out: dict[str, list[float]] = {"steps": [int(s) for s in self.steps]}
        out.update({name: [float(v) for v in getattr(self, name)]
                    for name in self.__dataclass_fields__ if name != "steps"})
        return out


def similarity_curves(graph: CircuitGraph, steps: np.ndarray, masks: np.ndarray,
                      scores: np.ndarray) -> SimilarityCurves:
    """Circuit similarity over training: each checkpoint against the previous and the last.

    "Previous" is the checkpoint just before in ``steps``, even when its circuit is empty (the
    value is then NaN): skipping to an older one would hide that the circuit was absent.

    Args:
        graph: The graph the masks are over.
        steps: (S,) strictly increasing training steps.
        masks: (S, E) boolean circuit of each checkpoint.
        scores: (S, E) edge scores of each checkpoint (used by the weighted Jaccard).

    Returns:
        The six curves (see :class:`SimilarityCurves`).

    Raises:
        ValueError: On shapes that do not match, no checkpoint, or steps not increasing.
    """
    steps = np.asarray(steps)
    masks = _mask(masks, "masks")
    scores = np.asarray(scores, np.float64)
    n = len(steps)
    if n == 0 or steps.ndim != 1:
        raise ValueError(f"steps must be a non-empty 1-d array, got shape {steps.shape}")
    if masks.shape != (n, graph.n_edges) or scores.shape != masks.shape:
        raise ValueError(f"masks {masks.shape} and scores {scores.shape} must both be "
                         f"({n}, {graph.n_edges})")
    if np.any(np.diff(steps) <= 0):
        raise ValueError("steps must be strictly increasing")
    nan = np.full(n, np.nan)
    out = {key: nan.copy() for key in ("jp", "wp", "np", "jf", "wf", "nf")}
    for i in range(n):
        for j, suffix in ((i - 1, "p"), (n - 1, "f")):
            if j < 0:
                continue
            out["j" + suffix][i] = jaccard(masks[i], masks[j])
            out["w" + suffix][i] = weighted_jaccard(masks[i], scores[i], masks[j], scores[j])
            out["n" + suffix][i] = node_jaccard(graph, masks[i], masks[j])
    return SimilarityCurves(steps, out["jp"], out["wp"], out["np"], out["jf"], out["wf"],
                            out["nf"])
