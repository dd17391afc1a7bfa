"""The LLC's developmental stages in W&B, logged once when the run finishes.

The LLC itself (``llc/llc``, ``llc/llc_std`` and the SGLD diagnostics) goes out per step
with every other metric. Stage boundaries need the whole curve and ``tracker detect``, so at
the end, from the consolidated store and its events, at the last step:

* ``llc/stages``: the figure the report draws (:func:`tracker.views.llc.llc_figure`): the LLC
  curve, its stage boundaries and the other mechanisms' first events;
* ``llc/stage_table``: one row per boundary (step, tokens, shape, LLC change, nearest other
  event).
"""

from __future__ import annotations

import os
from typing import Any

from tracker.events import read_store_events
from tracker.store import SeriesStore
from tracker.views.llc import has_llc, llc_figure, llc_series, stage_table
from tracker.views.mpl import figure_rgb

STAGE_COLUMNS = ["step", "tokens", "shape", "llc_change", "nearest_other_event"]


def llc_summary(wandb: Any, store_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Build the end-of-run LLC row for W&B ({} for a store without the LLC probe).

    Args:
        wandb: The wandb module (for ``Table`` and ``Image``).
        store_path: The consolidated series store.
    """
    store = SeriesStore(store_path)
    if not has_llc(store):
        return {}
    view = llc_series(store, read_store_events(store_path, store.series_id))
    figure = llc_figure(view)
    image = wandb.Image(figure_rgb(figure), caption=f"{view.series_id}: LLC and stages")
    figure.clear()
    return {"llc/stages": image,
            "llc/stage_table": wandb.Table(columns=STAGE_COLUMNS, data=stage_table(view))}
