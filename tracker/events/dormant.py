"""Dormant and active heads over training: label changes and active-dormant heads as events.

The ``dormant`` probe (:mod:`tracker.probes.dormant`) stores per checkpoint, head and input
domain a label (1 dormant, 0 active, NaN unmeasured) and ``active_dormant`` (dormant on one
domain, active on another). Labels are a rule's output, not a noisy measurement to test
against a smooth null, so a change counts when it persists: the same rule as role swaps
(:func:`tracker.circuits.role_swaps.stable_changes`), the label steady ``persistence``
checkpoints on each side. A NaN label counts as not dormant there.

Events, one per persistent change, dated at the first checkpoint of the new state:

* ``dormant`` / ``active``: the head becomes dormant / active on a domain (metric
  ``dormant_{domain}``, ``members`` the domain);
* ``active_dormant`` / ``active_dormant_end``: the head starts / stops being dormant on
  some domain while active on another (metric ``active_dormant``, ``members`` saying where
  it is dormant and where active once the change has happened, e.g. ``dormant:text
  active:random+repeated``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracker.circuits.role_swaps import SwapConfig, stable_changes
from tracker.events.model import Event
from tracker.labels import HeadId
from tracker.store import SeriesStore

PROBE = "dormant"


def has_dormant(store: SeriesStore) -> bool:
    """Whether the store holds the dormant probe's results."""
    return any(probe == PROBE for probe, _ in store.variants())


def domains(store: SeriesStore) -> list[str]:
    """Return the input domains the store holds labels for (``dormant_{d}``), as stored."""
    return [info.name.removeprefix("dormant_") for info in store.metric_infos(PROBE)
            if info.name.startswith("dormant_") and not info.error_of]


def dormant_labels(store: SeriesStore) -> dict[str, np.ndarray]:
    """Per domain, (S, n_layers, n_heads) labels: 1 dormant, 0 active, NaN unmeasured."""
    return {d: store.metric(PROBE, f"dormant_{d}") for d in domains(store)}


def where_dormant(labels: dict[str, np.ndarray], index: int, layer: int, head: int) -> str:
    """Say on which domains a head is dormant and on which active at one checkpoint."""
    dormant = [d for d, v in labels.items() if v[index, layer, head] == 1.0]
    active = [d for d, v in labels.items() if v[index, layer, head] == 0.0]
    return f"dormant:{'+'.join(dormant) or '-'} active:{'+'.join(active) or '-'}"


@dataclass(frozen=True)
class LabelRun:
    """A stretch of checkpoints over which a head keeps one label on one domain.

    Attributes:
        domain: Input domain.
        label: ``dormant``, ``active`` or ``unmeasured``.
        first_step: First checkpoint of the run.
        last_step: Last checkpoint of the run.
    """

    domain: str
    label: str
    first_step: int
    last_step: int


def label_runs(steps: np.ndarray, labels: np.ndarray) -> list[tuple[str, int, int]]:
    """Compress one head's labels over checkpoints into ``(label, first step, last step)`` runs."""
    labels = np.asarray(labels, dtype=np.float64)
    names = np.where(np.isnan(labels), "unmeasured",
                     np.where(labels == 1.0, "dormant", "active"))
    runs: list[tuple[str, int, int]] = []
    for step, name in zip(steps, names, strict=True):
        if runs and runs[-1][0] == name:
            runs[-1] = (runs[-1][0], runs[-1][1], int(step))
        else:
            runs.append((str(name), int(step), int(step)))
    return runs


def head_runs(store: SeriesStore) -> dict[HeadId, list[LabelRun]]:
    """Per head that is dormant on some domain at some checkpoint, its runs on every domain.

    Heads active (or unmeasured) throughout on every domain are left out.
    """
    labels = dormant_labels(store)
    steps = store.steps
    _, n_layers, n_heads = next(iter(labels.values())).shape
    out: dict[HeadId, list[LabelRun]] = {}
    for layer in range(n_layers):
        for head in range(n_heads):
            if not any((v[:, layer, head] == 1.0).any() for v in labels.values()):
                continue
            out[HeadId(layer, head)] = [
                LabelRun(domain, *run) for domain, v in labels.items()
                for run in label_runs(steps, v[:, layer, head])]
    return out


def dormant_events(store: SeriesStore, config: SwapConfig | None = None) -> list[Event]:
    """Return persistent label changes and active-dormant starts and ends as events.

    Args:
        store: A series store ([] without the dormant probe).
        config: Persistence of a change (``window`` is not used).
    """
    if not has_dormant(store):
        return []
    config = config or SwapConfig()
    labels = dormant_labels(store)
    tps = store.tokens_per_step
    steps = store.steps
    rule = (f"label steady {config.persistence} checkpoints on each side (rule, no test)")
    detector = f"dormant_labels:persistence{config.persistence}"
    n_heads = next(iter(labels.values())).shape[2]
    events = []

    def event(kind: str, metric: str, index: int, unit: int, members: str) -> Event:
        where = HeadId.from_flat(unit, n_heads)
        step = float(steps[index])
        return Event(store.series_id, kind, PROBE, metric, where.layer, where.head, step, step,
                     step, step * tps, step * tps, step * tps, magnitude=1.0, confidence=1.0,
                     detector=detector, members=members, evidence=rule)

    for domain, values in labels.items():
        for index, unit, gained in stable_changes(values == 1.0, config.persistence):
            events.append(event("dormant" if gained else "active", f"dormant_{domain}",
                                index, unit, domain))
    both = store.metric(PROBE, "active_dormant") == 1.0
    for index, unit, gained in stable_changes(both, config.persistence):
        where = HeadId.from_flat(unit, n_heads)
        events.append(event("active_dormant" if gained else "active_dormant_end",
                            "active_dormant", index, unit,
                            where_dormant(labels, index, where.layer, where.head)))
    return sorted(events, key=lambda e: (e.onset_step, e.layer, e.head, e.metric))
