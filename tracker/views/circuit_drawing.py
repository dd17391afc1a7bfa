"""A drawing of one checkpoint's circuit: nodes by layer, edges by score (report and W&B).

Layout: the input at the bottom, the logits at the top, one row per layer between them with
the layer's heads side by side and its MLP to their right. Every node of the graph is drawn
(faint when the circuit does not touch it), so drawings at different checkpoints line up.

Edges of the circuit run upward from the sender's top to the receiver's bottom as smooth
curves. Width and opacity grow with the edge's |EAP-IG score| relative to the strongest edge
drawn (per drawing: the scale of scores grows over training, the structure is what is
compared); colour gives the sign. A score estimates how the task metric moves when the edge
alone reads the corrupted run (:mod:`tracker.circuits.attribution`), so a negative score
(blue) marks an edge that carries the task and a positive one (red) an edge working against
it. Edges into a head enter at one of three ports and differ in line style: query (left,
dashed), key (middle, dotted), value (right, solid).

Large graphs: at most ``max_edges`` circuit edges are drawn, the largest by |score|, and the
title says how many were left out; node labels shrink to head indices beyond 8 heads per
layer (rows keep their layer label).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracker.circuits.graph import CircuitGraph, Edge, Node
from tracker.circuits.similarity import node_mask
from tracker.views.mpl import new_figure, style

#: Circuit edges drawn at most (the strongest by |score|).
MAX_EDGES = 150
#: Colours of edges whose corruption lowers (carries the task) or raises the task metric.
CARRIES, OPPOSES = "#2563eb", "#dc2626"
#: Line style and port offset (in head spacings) of each way into a head.
CHANNELS: dict[str, tuple[Any, float]] = {
    "q": ((0, (4, 2)), -0.2), "k": ((0, (1, 1.5)), 0.0), "v": ("solid", 0.2), "": ("solid", 0.0)}
_RADIUS = 0.3
_MLP_GAP = 0.7


def node_positions(graph: CircuitGraph) -> dict[Node, tuple[float, float]]:
    """(x, y) of every node: heads at x = 0..n_heads-1, the MLP right of them, y = layer + 1."""
    middle = (graph.n_heads - 1 + _MLP_GAP) / 2
    out: dict[Node, tuple[float, float]] = {}
    for node in graph.nodes:
        if node.kind == "head":
            out[node] = (float(node.head), node.layer + 1.0)
        elif node.kind == "mlp":
            out[node] = (graph.n_heads - 1 + _MLP_GAP + 0.5, node.layer + 1.0)
        else:  # input at the bottom (y 0), logits at the top (y n_layers + 1)
            out[node] = (middle, node.layer + 1.0)
    return out


def edges_to_draw(mask: np.ndarray, scores: np.ndarray, max_edges: int = MAX_EDGES
                  ) -> np.ndarray:
    """Pick the circuit edges to draw: the ``max_edges`` largest |score|, weakest first.

    Weakest first so the strong edges are drawn on top of the weak ones.
    """
    chosen = np.flatnonzero(np.asarray(mask, dtype=bool))
    order = chosen[np.argsort(-np.abs(np.asarray(scores)[chosen]), kind="stable")]
    return order[:max_edges][::-1]


def _edge_path(edge: Edge, pos: dict[Node, tuple[float, float]]) -> Any:
    """Return a cubic Bezier from the sender's top to the receiver's port (vertical ends)."""
    from matplotlib.path import Path

    (x0, y0), (x1, y1) = pos[edge.sender], pos[edge.receiver]
    # The input and logits boxes span the width: an edge meets them below or above its other
    # end, so one can tell which component reads the input or writes the logits.
    if edge.sender.kind == "input":
        x0 = x0 + (x1 - x0) * 0.85
    if edge.receiver.kind == "logits":
        x1 = x1 + (x0 - x1) * 0.85
    # An edge skipping layers straight up its column would run through the nodes between:
    # bow it to the right, the further the longer it is.
    rise = y1 - y0
    bow = 0.75 + 0.1 * rise if abs(x1 - x0) < 0.8 and rise > 1.5 else 0.0
    y0 += _RADIUS * 0.9
    x1 += CHANNELS[edge.channel][1] if edge.receiver.kind == "head" else 0.0
    y1 -= _RADIUS * 0.9
    # A sequential block's MLP reads its own layer's heads: a short arc over the row.
    bend = max(0.35, 0.4 * (y1 - y0))
    return Path([(x0, y0), (x0 + bow, y0 + bend), (x1 + bow, y1 - bend), (x1, y1)],
                [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4])


def _draw_nodes(ax: Any, graph: CircuitGraph, pos: dict[Node, tuple[float, float]],
                touched: np.ndarray) -> None:
    from matplotlib.patches import Circle, FancyBboxPatch

    full_labels = graph.n_heads <= 8
    font = 6.5 if graph.n_heads <= 8 else 5.5
    width = graph.n_heads - 1 + _MLP_GAP + 1.0
    for node, on in zip(graph.nodes, touched, strict=True):
        x, y = pos[node]
        face, edge, text = ("#1f2937", "#1f2937", "white") if on else \
            ("white", "#d1d5db", "#9ca3af")
        if node.kind == "head":
            ax.add_patch(Circle((x, y), _RADIUS, fc=face, ec=edge, lw=0.8, zorder=3))
            label = node.name if full_labels else str(node.head)
        elif node.kind == "mlp":
            ax.add_patch(FancyBboxPatch((x - _RADIUS, y - _RADIUS * 0.8), 2 * _RADIUS,
                                        1.6 * _RADIUS, boxstyle="round,pad=0,rounding_size=0.06",
                                        fc=face, ec=edge, lw=0.8, zorder=3))
            label = node.name if full_labels else "mlp"
        else:
            ax.add_patch(FancyBboxPatch((x - width / 2 + 0.2, y - _RADIUS * 0.8), width - 0.4,
                                        1.6 * _RADIUS, boxstyle="round,pad=0,rounding_size=0.1",
                                        fc="#f3f4f6", ec="#9ca3af", lw=0.8, zorder=3))
            label, text = node.name, "#374151"
        ax.text(x, y, label, ha="center", va="center", fontsize=font, color=text, zorder=4)


def _legend(fig: Any) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="#374151", lw=1.4, linestyle=CHANNELS[c][0],
                      label=f"{name}") for c, name in (("q", "query"), ("k", "key"),
                                                        ("v", "value / MLP / logits"))]
    handles += [Line2D([], [], color=CARRIES, lw=2.2, label="score < 0: carries the task"),
                Line2D([], [], color=OPPOSES, lw=2.2, label="score > 0: works against it")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=7,
               handlelength=2.6, columnspacing=1.2)


def circuit_figure(graph: CircuitGraph, mask: np.ndarray, scores: np.ndarray, title: str,
                   max_edges: int = MAX_EDGES) -> Any:
    """Draw one checkpoint's circuit (see the module docstring).

    Args:
        graph: The graph the vectors are over.
        mask: (E,) boolean circuit membership.
        scores: (E,) edge scores.
        title: First title line (task, step, tokens); edge counts are added beneath.
        max_edges: Circuit edges drawn at most (the largest |score|).

    Returns:
        A matplotlib Figure (Agg canvas, no pyplot).

    Raises:
        ValueError: If ``mask`` or ``scores`` is not one entry per edge.
    """
    mask = np.asarray(mask, dtype=bool)
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64))
    if mask.shape != (graph.n_edges,) or scores.shape != mask.shape:
        raise ValueError(f"mask {mask.shape} and scores {scores.shape} must be "
                         f"({graph.n_edges},)")
    pos = node_positions(graph)
    drawn = edges_to_draw(mask, scores, max_edges)
    touched = node_mask(graph, mask, ends=True)
    top = float(np.abs(scores[drawn]).max()) if len(drawn) else 0.0
    from matplotlib.patches import PathPatch

    with style():
        width = float(np.clip(0.62 * (graph.n_heads + 1.7) + 0.9, 4.2, 12.0))
        height = float(np.clip(0.62 * (graph.n_layers + 2) + 1.2, 3.6, 11.0))
        fig = new_figure(width, height)
        ax = fig.subplots(1, 1)
        for index in drawn:
            edge = graph.edges[index]
            strength = abs(scores[index]) / top if top > 0 else 0.0
            ax.add_patch(PathPatch(
                _edge_path(edge, pos), fc="none", lw=0.5 + 3.0 * strength,
                ec=OPPOSES if scores[index] > 0 else CARRIES, alpha=0.3 + 0.65 * strength,
                linestyle=CHANNELS[edge.channel][0], capstyle="round", zorder=2))
        _draw_nodes(ax, graph, pos, touched)
        right = graph.n_heads - 1 + _MLP_GAP + 0.5
        ax.set_xlim(-0.55, right + 0.9)  # room for edges bowed right of the MLPs
        ax.set_ylim(-0.5, graph.n_layers + 1.5)
        ax.set_aspect("equal")
        ax.set_yticks(range(1, graph.n_layers + 1), [f"L{i}" for i in range(graph.n_layers)])
        ax.set_xticks([])
        ax.tick_params(length=0)
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        n = int(mask.sum())
        shown = "" if len(drawn) == n else f"; the {len(drawn)} largest |score| drawn"
        ax.set_title(f"{title}\n{n} of {graph.n_edges} edges{shown}", fontsize=9)
        _legend(fig)
    return fig
