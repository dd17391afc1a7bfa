"""The report's "Circuits" block of a series: per task, figures, role table and role swaps.

Empty for a store without the ``circuits`` probe, so such reports are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from tracker.events.circuits import SETTLED, circuit_tasks, formation
from tracker.labels import format_tokens, short_series, slug
from tracker.report.circuits import DRAWING_GUIDE, task_plots
from tracker.report.fragments import figure_html, num, table_html, when
from tracker.store import SeriesStore
from tracker.views.circuits import RoleSpell, TaskCircuits, task_circuits

#: Holder changes listed per role before the rest is summarised in one line.
MAX_SPELLS = 12
ROLE_SOURCES = ("Name movers and S-inhibition heads are the circuit probe's own IOI tests; "
                "induction, previous-token, duplicate and successor roles are heads of the "
                "task's circuit whose score in that probe reaches the probe's threshold.")


def _heads(heads: tuple[str, ...]) -> str:
    return " ".join(f"<code>{escape(h)}</code>" for h in heads) or "<span class='muted'>none</span>"


def role_rows(spells: dict[str, list[RoleSpell]], max_spells: int = MAX_SPELLS
              ) -> list[list[str]]:
    """Rows of the role table: per role, each run of checkpoints with the same holders.

    A role no circuit head ever holds gets one row saying so; a role changing holders more
    than ``max_spells`` times lists the first ones and counts the rest.
    """
    rows: list[list[str]] = []
    for role, runs in spells.items():
        name = f"<b>{escape(role.replace('_', ' '))}</b>"
        if all(not run.heads for run in runs):
            rows.append([name, "–", "–", str(sum(r.n_checkpoints for r in runs)),
                         "<span class='muted'>never held by a circuit head</span>"])
            continue
        for i, run in enumerate(runs[:max_spells]):
            rows.append([name if i == 0 else "", when(run.first_step, run.first_tokens),
                         when(run.last_step, run.last_tokens), str(run.n_checkpoints),
                         _heads(run.heads)])
        if len(runs) > max_spells:
            rows.append(["", "", "", "", f"<span class='muted'>and {len(runs) - max_spells} "
                         "more changes of holders</span>"])
    return rows


def role_table_html(view: TaskCircuits) -> str:
    """Render the role table of one task: holders per role, compressed to their changes."""
    if not view.roles:
        return "<p class='muted'>No roles stored for this task.</p>"
    table = table_html(["role", "from step", "to step", "checkpoints", "heads holding it"],
                       role_rows(view.spells()), "compact roles")
    return f"<p class='muted'>{ROLE_SOURCES}</p>{table}"


def swaps_html(view: TaskCircuits) -> str:
    """Render the task's role swaps (a role passing from some heads to others)."""
    if not view.swaps:
        return ("<p class='muted'>No role swaps: no role passed from one circuit head to "
                "another with its holders steady on both sides.</p>")
    rows = []
    for event in view.swaps:
        before, _, after = event.members.partition("->")
        role = event.metric.removeprefix(f"circuit_{view.task}_").replace("_", " ")
        rows.append([f"<b>{escape(role)}</b>", when(event.midpoint_step, event.midpoint_tokens),
                     _heads(tuple(before.split("+")) if before else ()),
                     _heads(tuple(after.split("+")) if after else ())])
    return table_html(["role", "step", "from", "to"], rows, "compact")


def _faith(value: float) -> str:
    return f"{value:.2f}" if np.isfinite(value) else "–"


def task_facts(view: TaskCircuits) -> str:
    """One sentence: when the circuit first exists, and its size and faithfulness at the end."""
    have = np.flatnonzero(view.defined)
    if not len(have):
        return ("No circuit at any checkpoint: the clean run never beats the corrupted one by "
                "more than the noise and the task's minimum gap (the model does not do the "
                "task).")
    first, last = int(have[0]), int(have[-1])
    return (f"First circuit at step {int(view.steps[first]):,} "
            f"({format_tokens(view.tokens[first])} tokens); at step "
            f"{int(view.steps[last]):,}: {num(view.size[last])} of {view.graph.n_edges} edges "
            f"({num(100 * view.size_fraction[last], 2)}%), faithfulness "
            f"{_faith(view.faithfulness[last])} (target {view.target:g}); defined at "
            f"{len(have)} of {len(view.steps)} checkpoints.")


def circuits_section(store: SeriesStore, n_drawings: int = 4) -> str:
    """Render the "Circuits" block of one series ('' when the store has no circuits)."""
    if not circuit_tasks(store):
        return ""
    parts = []
    for task in circuit_tasks(store):
        view = task_circuits(store, task)
        figures = "".join(figure_html(plot) for plot in task_plots(store.series_id, view,
                                                                   n_drawings))
        parts.append(
            f"<div class='circuit-task' id='{slug(store.series_id)}-circuit-{slug(task)}'>"
            f"<h4>{escape(task)}</h4><p>{task_facts(view)}</p>"
            f"<div class='figs'>{figures}</div>"
            f"<h5>Roles over training</h5>{role_table_html(view)}"
            f"<h5>Role swaps</h5>{swaps_html(view)}</div>")
    graph = view.graph
    return (f"<div class='circuits'><h3>Circuits</h3><p class='muted'>Minimal faithful "
            f"circuits per task, found by EAP-IG over a graph of {graph.n_edges} edges "
            f"({graph.n_layers} layers × {graph.n_heads} heads + MLPs). {DRAWING_GUIDE}</p>"
            f"{''.join(parts)}</div>")


def _from(step: int | None, tokens: float) -> str:
    return "–" if step is None else when(step, tokens)


def circuits_overview(stores: Sequence[SeriesStore]) -> str:
    """Across series: when each task's circuit forms, in steps and tokens ('' without any)."""
    rows = []
    for store in stores:
        for task in circuit_tasks(store):
            found = formation(store, task)
            rows.append([escape(short_series(store.series_id)), escape(task),
                         _from(found.defined_step, found.defined_tokens),
                         _from(found.settled_step, found.settled_tokens),
                         f"{found.final_size:.0f}" if np.isfinite(found.final_size) else "–",
                         _faith(found.final_faithfulness)])
    if not rows:
        return ""
    table = table_html(["series", "task", "circuit at every later checkpoint from",
                        f"similar to the final circuit (weighted Jaccard >= {SETTLED:g}) from",
                        "final edges", "final faithfulness"], rows, "compact")
    return (f"<h3>When circuits form</h3><p class='muted'>Descriptions of the curves, not "
            f"tested claims; the tested ones are the similarity curves' emergence events."
            f"</p>{table}")
