"""Tests for tracker.views.mpl: one-draw PNG rendering."""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from tracker.views.mpl import figure_png, figure_rgb, new_figure, style  # noqa: E402


def _busy_figure() -> Any:
    """A constrained-layout figure with what the report uses: shared axes, a colorbar over
    several axes, a suptitle and an outside legend (each moves the layout)."""
    with style():
        fig = new_figure(6.0, 2.6)
        axes = fig.subplots(1, 3, sharey=True)
        image = None
        for k, ax in enumerate(axes):
            image = ax.imshow(np.arange(12.0).reshape(3, 4) * (k + 1), cmap="viridis")
            ax.set_title(f"step {10 ** k:,}\n{k} tok")
            ax.plot([0, 3], [0, 2], label=f"line {k}")
        fig.colorbar(image, ax=list(axes), shrink=0.9, label="score")
        fig.legend(loc="outside lower center", ncol=3)
        fig.suptitle("a long left-aligned title over every panel", x=0.01, ha="left")
    return fig


def _savefig_png(fig: Any, dpi: int) -> bytes:
    buffer = io.BytesIO()
    with style():
        fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


@pytest.mark.parametrize("dpi", [110, 150])
def test_figure_png_writes_the_bytes_savefig_writes(dpi: int) -> None:
    assert figure_png(_busy_figure(), dpi) == _savefig_png(_busy_figure(), dpi)


def test_figure_png_puts_canvas_and_dpi_back() -> None:
    fig = _busy_figure()
    canvas, dpi = fig.canvas, fig.dpi
    png = figure_png(fig, 150)
    assert fig.canvas is canvas and fig.dpi == dpi
    assert png == _savefig_png(_busy_figure(), 150)
    # A second render runs the layout again from where the first left the axes, as savefig's
    # would; the image keeps its size.
    assert figure_png(fig, 150)[16:24] == png[16:24]  # PNG width and height


def test_figure_png_renders_an_unpickled_figure() -> None:
    """Render workers get figures through pickle, on matplotlib's base canvas."""
    from matplotlib.backend_bases import FigureCanvasBase

    copy = pickle.loads(pickle.dumps(_busy_figure()))
    assert type(copy.canvas) is FigureCanvasBase
    assert figure_png(copy, 150) == _savefig_png(_busy_figure(), 150)
    assert type(copy.canvas) is FigureCanvasBase


def test_figure_rgb_is_the_png_at_its_dpi() -> None:
    image = figure_rgb(_busy_figure(), dpi=100)
    assert image.shape == (260, 600, 3) and image.dtype == np.uint8
    assert image[0, -1].tolist() == [255, 255, 255]  # white figure background
