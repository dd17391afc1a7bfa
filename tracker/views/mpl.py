"""Matplotlib house style and rendering, shared by the report's figures and W&B images.

matplotlib is imported inside the functions (it is an optional dependency) and figures are
built as ``matplotlib.figure.Figure`` objects rendered by Agg, never through pyplot, so no
global backend is switched (a notebook's inline backend stays as it is) and nothing leaks.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from tracker.errors import TrackerError
from tracker.labels import format_tokens

#: House style: quiet axes, light grid, left-aligned titles; applied per figure.
STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9,
    "axes.labelcolor": "#1f2937",
    "axes.edgecolor": "#9ca3af",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.6,
    "xtick.color": "#4b5563",
    "ytick.color": "#4b5563",
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "savefig.dpi": 150,
    "savefig.facecolor": "white",
}


@contextmanager
def style() -> Iterator[Any]:
    """Import matplotlib lazily and apply the house style for the block; yields the module."""
    try:
        import matplotlib
    except ImportError as exc:
        raise TrackerError("plots need matplotlib: pip install 'tracker[plot]'") from exc
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]  # keys typed as a Literal
        yield matplotlib


def new_figure(width: float, height: float) -> Any:
    """Make a constrained-layout Figure on an Agg canvas (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Save a figure (format from the suffix: png, pdf, svg) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with style():
        fig.savefig(path)
    return path


def figure_png(fig: Any, dpi: int = 150) -> bytes:
    """Render a figure to PNG bytes, drawing it once.

    ``savefig`` draws a figure that has a layout engine twice (once unrendered to place the
    axes, once for real) and the constrained layout runs in both; the Agg canvas's own
    ``print_png`` draws once, layout included, and writes the same bytes (tested): a fifth
    less time per report figure. The figure's canvas and dpi are put back afterwards.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    canvas, saved_dpi = fig.canvas, fig.dpi
    with style():
        try:
            fig.dpi = dpi
            # A figure unpickled in a render worker comes back on a base canvas.
            agg = canvas if isinstance(canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
            agg.print_png(buffer)
        finally:
            fig.dpi = saved_dpi
            fig.set_canvas(canvas)
    return buffer.getvalue()


def _token_tick(value: float, _position: Any, seam: float) -> str:
    return format_tokens(value) if value > seam else ""


def _plain_tick(value: float, _position: Any) -> str:
    return f"{value:g}"


def token_formatter(seam: float = 0.0) -> Any:
    """Tick labels in tokens (``1.2M``), blank at or below ``seam`` (an init band's edge).

    Module-level callables rather than lambdas, so figures pickle (the report renders them
    in worker processes).
    """
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(partial(_token_tick, seam=seam))


def plain_formatter() -> Any:
    """Tick labels in ``%g`` form (picklable, as :func:`token_formatter`)."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(_plain_tick)


def figure_rgb(fig: Any, dpi: int = 110) -> np.ndarray:
    """Render a figure to an (H, W, 3) uint8 image (what ``wandb.Image`` takes)."""
    from matplotlib.image import imread

    return (imread(io.BytesIO(figure_png(fig, dpi)))[..., :3] * 255).round().astype(np.uint8)
