"""The circuit drawing: layout, which edges are drawn and how."""

import numpy as np
import pytest

from tracker.circuits import CircuitGraph
from tracker.circuits.graph import Node
from tracker.views.circuit_drawing import (
    CARRIES,
    CHANNELS,
    OPPOSES,
    circuit_figure,
    edges_to_draw,
    node_positions,
)
from tracker.views.mpl import figure_png, figure_rgb

GRAPH = CircuitGraph(2, 3, True)


def _edge_patches(fig):
    from matplotlib.patches import PathPatch

    return [p for p in fig.axes[0].patches if isinstance(p, PathPatch)]


def test_layout_puts_input_at_the_bottom_logits_on_top_and_mlps_right_of_heads():
    pos = node_positions(GRAPH)
    assert pos[Node(-1, "input")][1] == 0.0 and pos[Node(2, "logits")][1] == 3.0
    assert pos[Node(1, "head", 2)] == (2.0, 2.0)
    assert pos[Node(1, "mlp")][0] > max(pos[Node(1, "head", h)][0] for h in range(3))
    assert len(set(pos.values())) == len(GRAPH.nodes)  # no two nodes on one spot


def test_edges_to_draw_keeps_the_strongest_and_draws_them_last():
    mask = np.array([True, False, True, True, True])
    scores = np.array([0.1, -9.0, -0.5, 0.3, -0.2])
    assert edges_to_draw(mask, scores, 10).tolist() == [0, 4, 3, 2]
    assert edges_to_draw(mask, scores, 2).tolist() == [3, 2]


def test_drawing_shows_the_circuit_edges_by_sign_width_and_channel():
    mask = np.zeros(GRAPH.n_edges, bool)
    names = {e.name: i for i, e in enumerate(GRAPH.edges)}
    chosen = ["input->L0H1.q", "input->L0H1.k", "L0H1->L1H0.v", "L1H0->logits"]
    mask[[names[n] for n in chosen]] = True
    scores = np.zeros(GRAPH.n_edges)
    scores[[names[n] for n in chosen]] = [-1.0, -0.5, -0.25, 0.1]
    fig = circuit_figure(GRAPH, mask, scores, "ioi circuit · step 10")
    patches = _edge_patches(fig)
    assert len(patches) == 4
    # Drawn weakest first: the positive (red) edge, then the blue ones, the widest last.
    from matplotlib.colors import to_hex

    assert [to_hex(p.get_edgecolor()) for p in patches] == [OPPOSES] + [CARRIES] * 3
    widths = [p.get_linewidth() for p in patches]
    assert widths == sorted(widths) and widths[-1] == pytest.approx(3.5)
    styles = {p.get_linestyle() for p in patches}
    assert len(styles) == 3  # q dashed, k dotted, v and logits solid
    assert fig.axes[0].get_title("left") == "ioi circuit · step 10\n4 of 69 edges"
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"L1H0", "mlp1", "input", "logits"} <= labels
    assert figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    image = figure_rgb(fig, dpi=50)
    assert image.dtype == np.uint8 and image.shape[2] == 3 and image.std() > 0
    assert CHANNELS["q"][0] != CHANNELS["k"][0] != CHANNELS["v"][0]


def test_large_circuits_draw_the_top_edges_and_say_so():
    graph = CircuitGraph(12, 12, True)
    mask = np.zeros(graph.n_edges, bool)
    mask[::50] = True
    scores = -np.arange(graph.n_edges, dtype=float)
    fig = circuit_figure(graph, mask, scores, "big", max_edges=40)
    assert len(_edge_patches(fig)) == 40
    assert fig.axes[0].get_title("left").endswith(f"{mask.sum()} of {graph.n_edges} edges; the 40 "
                                            "largest |score| drawn")
    assert "L3H5" not in {t.get_text() for t in fig.axes[0].texts}  # head indices only
    with pytest.raises(ValueError, match="must be"):
        circuit_figure(graph, mask[:-1], scores, "bad")
