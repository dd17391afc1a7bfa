"""Layer x head grids as plain RGB images and their shared colour range (W&B and the report).

One colour scale across checkpoints, so a head lighting up reads as a change in the head and
never as a change of scale.
"""

from __future__ import annotations

import numpy as np

#: Colour map of every layer x head heatmap.
HEATMAP_CMAP = "viridis"


def heatmap_range(values: np.ndarray) -> tuple[float, float]:
    """Shared colour range: [0, 1] widened to the data, so score maps read alike everywhere."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return 0.0, 1.0
    return min(0.0, float(finite.min())), max(1.0, float(finite.max()))


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
