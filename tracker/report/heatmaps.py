"""Layer x head heatmaps as small multiples over training, on one colour scale."""

from __future__ import annotations

from typing import Any

import numpy as np

from tracker.errors import TrackerError
from tracker.labels import format_tokens, short_series
from tracker.report.plots import new_figure, style
from tracker.store import Metric, SeriesStore
from tracker.views.heatmap import HEATMAP_CMAP, heatmap_range
from tracker.views.metrics import log_spaced_indices


def grid_figure(store: SeriesStore, info: Metric, n_panels: int = 8) -> Any:
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
