"""Layer x head heatmaps: small multiples over training, and plain images for W&B.

Both use one colour scale across checkpoints, so a head lighting up reads as a change in
the head and never as a change of scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracker.errors import TrackerError
from tracker.report.data import format_tokens, log_spaced_indices, short_series
from tracker.report.plots import HEATMAP_CMAP, new_figure, style
from tracker.store import MetricInfo, SeriesStore


def heatmap_range(values: np.ndarray) -> tuple[float, float]:
    """Shared colour range: [0, 1] widened to the data, so score maps read alike everywhere."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return 0.0, 1.0
    return min(0.0, float(finite.min())), max(1.0, float(finite.max()))


def grid_figure(store: SeriesStore, info: MetricInfo, n_panels: int = 8) -> Any:
    """Small multiples: one layer x head heatmap per log-spaced checkpoint, one colour scale.

    Heads past the metric's threshold get a white dot, so emergence reads across panels.
    """
    values = store.metric(info.probe, info.name).astype(float)
    if values.ndim != 3:
        raise TrackerError(f"{store.path}: {info.probe}/{info.name} is not a layer x head metric")
    have = [i for i in range(len(values)) if np.isfinite(values[i]).any()]
    picks = [have[i] for i in log_spaced_indices(store.tokens[have], n_panels)]
    vmin, vmax = heatmap_range(values[picks])
    n_layers, n_heads = values.shape[1:]
    panel_w = 0.35 + 0.17 * n_heads if n_heads <= 8 else 0.12 * n_heads
    panel_h = panel_w * n_layers / n_heads
    cols = len(picks)
    with style():
        fig = new_figure(min(15.0, cols * panel_w + 1.2), min(6.0, panel_h + 1.2))
        axes = np.atleast_1d(fig.subplots(1, cols, sharey=True, squeeze=False)[0])
        image = None
        for ax, index in zip(axes, picks, strict=True):
            image = ax.imshow(values[index], vmin=vmin, vmax=vmax, cmap=HEATMAP_CMAP,
                              origin="upper", interpolation="nearest")
            ax.grid(False)
            ax.set_title(f"step {store.steps[index]:,}\n{format_tokens(store.tokens[index])} tok",
                         fontsize=8, loc="center", fontweight="normal")
            ax.set_xticks(range(0, n_heads, max(1, n_heads // 4)))
            ax.set_yticks(range(0, n_layers, max(1, n_layers // 6)))
            ax.tick_params(length=0, labelsize=7)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if info.threshold is not None and n_layers * n_heads <= 1024:
                past = values[index] <= info.threshold if info.higher_is_mechanism is False \
                    else values[index] >= info.threshold
                layer, head = np.nonzero(past)
                ax.scatter(head, layer, s=6, c="white", edgecolors="none")
            ax.set_xlabel("head", fontsize=7.5)
        axes[0].set_ylabel("layer", fontsize=7.5)
        bar = fig.colorbar(image, ax=list(axes), shrink=0.9, pad=0.01, aspect=15)
        bar.set_label(info.name, fontsize=7.5)
        bar.ax.tick_params(labelsize=7)
        bar.outline.set_visible(False)
        note = f" (dots: ≥ {info.threshold:g})" if info.threshold is not None else ""
        fig.suptitle(f"{short_series(store.series_id)}: {info.probe}/{info.name} over training"
                     f"{note}", x=0.01, ha="left", fontsize=10, fontweight="bold")
    return fig


def heatmap_array(values: np.ndarray, vmin: float, vmax: float,
                  cell: int | None = None) -> np.ndarray:
    """Colour a layer x head grid into an RGB uint8 image, ``cell`` pixels per head (for W&B).

    By default cells are sized so the longer side is about 240 pixels (4 to 32 per cell).

    No axes or text: W&B shows a caption under each image, and plain arrays render in
    milliseconds, which matters at one image per metric per checkpoint. Cells are split by
    thin white lines so neighbouring heads stay distinguishable.
    """
    grid = np.asarray(values, dtype=float)
    grid = grid.reshape(1, -1) if grid.ndim == 1 else grid
    cell = cell or max(4, min(32, 240 // max(grid.shape)))
    scaled = np.clip((grid - vmin) / ((vmax - vmin) or 1.0), 0.0, 1.0)
    try:
        from matplotlib import colormaps

        rgb = colormaps[HEATMAP_CMAP](scaled)[..., :3]
    except ImportError:  # matplotlib is optional: fall back to grey levels
        rgb = np.repeat(scaled[..., None], 3, axis=-1)
    rgb = np.where(np.isfinite(grid)[..., None], rgb, 0.85)  # missing values: light grey
    image = np.kron(rgb, np.ones((cell, cell, 1)))
    image[::cell, :, :] = 1.0
    image[:, ::cell, :] = 1.0
    return (image * 255).round().astype(np.uint8)
