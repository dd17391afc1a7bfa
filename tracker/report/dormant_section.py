"""The report's dormant / active head blocks: one per series, and one across series.

Labels come from the ``dormant`` probe (:mod:`tracker.probes.dormant`) and are compressed to
their changes by :func:`tracker.events.dormant.head_runs`; both blocks are empty for stores
without the probe, so such reports are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from tracker.circuits.role_swaps import SwapConfig
from tracker.events.dormant import (
    PROBE,
    LabelRun,
    domains,
    dormant_labels,
    has_dormant,
    head_runs,
)
from tracker.labels import HeadId, short_series, slug
from tracker.report.fragments import num, table_html
from tracker.store import SeriesStore

#: Runs of one head on one domain listed before the rest is counted.
MAX_RUNS = 8


def _threshold(store: SeriesStore, name: str) -> str:
    info = store.find_metric(f"{PROBE}/{name}")
    return num(info.threshold)


def rule_text(store: SeriesStore) -> str:
    """Put the labelling rule in words, with the thresholds the store's results used."""
    first = domains(store)[0]
    return (f"A head is dormant on a domain when its mean attention from queries q ≥ 1 to "
            f"the first token is at least {_threshold(store, f'first_mass_{first}')} and its "
            f"output norm is at most {_threshold(store, f'out_ratio_{first}')} of its typical "
            "output (the mean norm of one token's write over all domains), active otherwise; "
            f"a change is listed when the label holds {SwapConfig().persistence} checkpoints "
            "on each side.")


def _runs_cell(runs: list[LabelRun]) -> str:
    parts = [f"<span class='{'tag warn' if r.label == 'dormant' else 'muted'}'>{r.label}</span> "
             f"{r.first_step:,}–{r.last_step:,}" for r in runs[:MAX_RUNS]]
    if len(runs) > MAX_RUNS:
        parts.append(f"<span class='muted'>and {len(runs) - MAX_RUNS} more</span>")
    return " · ".join(parts)


def runs_rows(runs: dict[HeadId, list[LabelRun]]) -> list[list[str]]:
    """Rows of the table: per head ever dormant and per domain, its label runs over steps."""
    rows: list[list[str]] = []
    for head, head_runs_ in sorted(runs.items()):
        by_domain: dict[str, list[LabelRun]] = {}
        for run in head_runs_:
            by_domain.setdefault(run.domain, []).append(run)
        for i, (domain, domain_runs) in enumerate(by_domain.items()):
            rows.append([f"<code>{head.label}</code>" if i == 0 else "", escape(domain),
                         _runs_cell(domain_runs)])
    return rows


def strongest_parking(store: SeriesStore) -> str:
    """Where first-token attention came closest to dormancy, in words (for stores with none)."""
    best: tuple[float, str, int, int, float] | None = None
    for domain in domains(store):
        mass = store.metric(PROBE, f"first_mass_{domain}")
        if not np.isfinite(mass).any():
            continue
        index = np.unravel_index(int(np.nanargmax(mass)), mass.shape)
        if best is None or mass[index] > best[0]:
            ratio = store.metric(PROBE, f"out_ratio_{domain}")[index]
            best = (float(mass[index]), domain, int(index[0]), int(index[1]) * mass.shape[2]
                    + int(index[2]), float(ratio))
    if best is None:
        return ""
    value, domain, step_index, unit, ratio = best
    head = HeadId.from_flat(unit, store.metric(PROBE, f"first_mass_{domain}").shape[2])
    return (f"The largest first-token attention is {num(value, 2)} (<code>{head.label}</code> "
            f"on {escape(domain)} at step {int(store.steps[step_index]):,}, output ratio "
            f"{num(ratio, 2)} there).")


def dormant_section(store: SeriesStore) -> str:
    """Render the "Dormant and active heads" block of one series ('' without the probe)."""
    if not has_dormant(store):
        return ""
    runs = head_runs(store)
    if runs:
        body = table_html(["head", "domain", "label over training (steps)"], runs_rows(runs),
                          "compact dormant")
    else:
        body = (f"<p>No head is dormant on any domain at any of the {len(store.steps)} "
                f"checkpoints. {strongest_parking(store)}</p>")
    return (f"<div class='dormant' id='{slug(store.series_id)}-dormant'><h3>Dormant and "
            f"active heads</h3><p class='muted'>{escape(rule_text(store))}</p>{body}</div>")


def last_checkpoint_row(store: SeriesStore) -> list[str]:
    """One row of the across-series table: heads dormant per domain and active-dormant ones."""
    labels = dormant_labels(store)
    cells = [escape(short_series(store.series_id))]
    for values in labels.values():
        heads = [HeadId(int(layer), int(head)).label
                 for layer, head in zip(*np.nonzero(values[-1] == 1.0), strict=True)]
        cells.append(" ".join(f"<code>{h}</code>" for h in heads) or "–")
    both = store.metric(PROBE, "active_dormant")[-1] == 1.0
    cells.append(" ".join(f"<code>{HeadId(int(a), int(b)).label}</code>"
                          for a, b in zip(*np.nonzero(both), strict=True)) or "–")
    ever = np.stack([v == 1.0 for v in labels.values()]).any(axis=(0, 2, 3))
    cells.append(f"{int(store.steps[int(np.argmax(ever))]):,}" if ever.any() else "never")
    return cells


def dormant_overview(stores: Sequence[SeriesStore]) -> str:
    """Render the across-series dormant block ('' when no store has the probe)."""
    chosen = [s for s in stores if has_dormant(s)]
    if not chosen:
        return ""
    headers = (["series"] + [f"dormant on {escape(d)}" for d in domains(chosen[0])]
               + ["active-dormant", "first dormant head (step)"])
    rows = [last_checkpoint_row(s) for s in chosen]
    return (f"<div class='dormant'><h3>Dormant and active heads at the last checkpoint</h3>"
            f"{table_html(headers, rows, 'compact dormant')}</div>")
