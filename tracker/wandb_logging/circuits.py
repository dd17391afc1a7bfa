"""Circuits in W&B: what can be logged per step as it arrives, and the rest at the end.

Per step (live during a sweep, and identically in a replay), the circuit probe's scalars go
out with every other metric (``circuits/circuit_T_size``, ``_size_fraction``,
``_faithfulness``...; NaN, i.e. no circuit, is a gap), and the similarity of each checkpoint's
circuit to the previous checkpoint's (``circuits/circuit_T_jaccard_previous``,
``_weighted_previous``, ``_node_previous``) from :class:`tracker.views.circuits.PreviousCircuits`.
The per-edge vectors are not logged (thousands of entries; their mean or max means nothing).

Similarity to the *final* circuit needs the last checkpoint, so it is logged once, when the
run finishes (end of a sweep or a replay), from the consolidated store, at the last step:

* ``circuits/T/over_training``: a table with per checkpoint the six similarity curves, size
  and faithfulness, and ``circuits/T/similarity_to_final``, a line chart of it over tokens;
* ``circuits/T/drawings``: the circuit drawn at a few log-spaced checkpoints
  (:mod:`tracker.views.circuit_drawing`);
* ``circuits/T/roles``: the role table compressed to where the holders change, and
  ``circuits/role_swaps``: every role swap.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tracker.circuits.graph import CircuitGraph
from tracker.errors import TrackerError
from tracker.events.circuits import PROBE, circuit_tasks
from tracker.store import SeriesStore
from tracker.views.circuit_drawing import circuit_figure
from tracker.views.circuits import TaskCircuits, drawing_checkpoints, task_circuits
from tracker.views.mpl import figure_rgb

#: Columns of the ``over_training`` table after step and tokens: name -> TaskCircuits path.
CURVES = ("jaccard_final", "weighted_final", "node_final", "jaccard_previous",
          "weighted_previous", "node_previous")
SCALARS = ("size", "size_fraction", "faithfulness", "faithfulness_ratio")
ROLE_COLUMNS = ["role", "from_step", "from_tokens", "to_step", "to_tokens", "checkpoints",
                "heads"]
SWAP_COLUMNS = ["task", "role", "step", "tokens", "from_heads", "to_heads"]


def shard_graph(shard: Any, keys: dict[str, str]) -> CircuitGraph | None:
    """Return the circuit graph a step shard's circuit probe stored (None without one)."""
    for (probe, key), result in shard.results.items():
        if probe == PROBE and keys.get(probe, key) == key and "graph" in result.static:
            layers, heads, parallel = (int(v) for v in result.static["graph"])
            return CircuitGraph(layers, heads, bool(parallel))
    return None


def _cell(value: float) -> float | None:
    # W&B tables are JSON: NaN (no circuit) goes in as null.
    return float(value) if np.isfinite(value) else None


def _over_training(wandb: Any, view: TaskCircuits) -> dict[str, Any]:
    columns = ["step", "tokens", *CURVES, *SCALARS]
    curves = [getattr(view.similarity, name) for name in CURVES]
    scalars = [getattr(view, name) for name in SCALARS]
    data = [[int(view.steps[i]), int(view.tokens[i])]
            + [_cell(c[i]) for c in curves] + [_cell(v[i]) for v in scalars]
            for i in range(len(view.steps))]
    out: dict[str, Any] = {f"circuits/{view.task}/over_training":
                           wandb.Table(columns=columns, data=data)}
    xs, ys, keys = [], [], []
    for name in CURVES[:3]:
        values = getattr(view.similarity, name)
        keep = np.isfinite(values)
        if keep.any():
            xs.append([int(t) for t in view.tokens[keep]])
            ys.append([float(v) for v in values[keep]])
            keys.append(name)
    if keys:
        out[f"circuits/{view.task}/similarity_to_final"] = wandb.plot.line_series(
            xs=xs, ys=ys, keys=keys, xname="tokens",
            title=f"{view.task}: circuit similarity to the final checkpoint's")
    return out


def _roles(wandb: Any, view: TaskCircuits) -> Any:
    data = [[run.role, run.first_step, run.first_tokens, run.last_step, run.last_tokens,
             run.n_checkpoints, " ".join(run.heads)]
            for runs in view.spells().values() for run in runs]
    return wandb.Table(columns=ROLE_COLUMNS, data=data)


def _drawings(wandb: Any, view: TaskCircuits, n_drawings: int) -> list[Any]:
    images = []
    for index in drawing_checkpoints(view.tokens, view.defined, n_drawings):
        figure = circuit_figure(view.graph, view.masks[index], view.scores[index],
                                view.title(index))
        images.append(wandb.Image(figure_rgb(figure), caption=view.title(index)))
        figure.clear()
    return images


def circuit_summary(wandb: Any, store_path: str | os.PathLike[str], n_drawings: int = 4
                    ) -> dict[str, Any]:
    """Build the end-of-run circuit row for W&B ({} for a store without circuits).

    Args:
        wandb: The wandb module (for ``Table``, ``Image``, ``plot``).
        store_path: The consolidated series store.
        n_drawings: Checkpoints per task to draw the circuit at.

    Raises:
        TrackerError: If the store is unreadable or lacks the circuit graph's shape.
    """
    store = SeriesStore(store_path)
    row: dict[str, Any] = {}
    swaps = []
    for task in circuit_tasks(store):
        try:
            view = task_circuits(store, task)
        except KeyError as exc:  # a store written without the graph's shape
            raise TrackerError(f"circuits not logged: {exc}") from exc
        row.update(_over_training(wandb, view))
        row[f"circuits/{task}/roles"] = _roles(wandb, view)
        drawings = _drawings(wandb, view, n_drawings)
        if drawings:
            row[f"circuits/{task}/drawings"] = drawings
        for event in view.swaps:
            before, _, after = event.members.partition("->")
            swaps.append([task, event.metric.removeprefix(f"circuit_{task}_"),
                          int(event.midpoint_step), int(event.midpoint_tokens), before, after])
    if row:
        row["circuits/role_swaps"] = wandb.Table(columns=SWAP_COLUMNS, data=swaps)
    return row
