"""Events from a set of series on one checkpoint schedule: the code every entry point runs.

:func:`find_in_series` takes :class:`SeriesSpec` records (from a store, a CSV file or plain
arrays), applies the emergence definition (:mod:`tracker.events.emergence`) to each, and
builds the composite events: phase transitions (changes of at least two different probes
within ``window`` decades of step; the metrics of one probe count as one member, the loss as
one) and handovers (a head's fade and another head's rise of the same metric within
``window`` decades, both significant after a Benjamini-Hochberg correction over the heads
tested).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from tracker.detect.axis import Axis
from tracker.events.character import CharacterRule, width_decades
from tracker.events.emergence import (
    DEFINITION,
    DEFINITION_VERSION,
    EmergenceRule,
    classify_all,
    is_loss_like,
)
from tracker.events.model import Event

DETECTOR = f"{DEFINITION}:v{DEFINITION_VERSION}"
CHANGE_KINDS = ("emergence", "fade", "change")


@dataclass(frozen=True)
class SeriesSpec:
    """One series to test.

    Attributes:
        probe: Probe (for a CSV without probes, the metric name).
        metric: Metric name.
        values: Values per checkpoint (NaN: missing).
        layer: Layer, or -1.
        head: Head, or -1.
        threshold: Mechanism threshold, or None.
        higher_is_mechanism: Orientation; None for an unoriented metric (a loss).
        resolution: Quantum of a quantized metric, or None.
        span: Range of the metric over all its heads, or None for this series' range.
        standard_error: Median standard error of the values (the probe's ``NAME_se``), or
            None when it stores none.
    """

    probe: str
    metric: str
    values: np.ndarray
    layer: int = -1
    head: int = -1
    threshold: float | None = None
    higher_is_mechanism: bool | None = True
    resolution: float | None = None
    span: float | None = None
    standard_error: float | None = None


@dataclass
class DetectOptions:
    """How events are found.

    Attributes:
        axis: x axis: ``log_step``, ``tokens`` or ``index``.
        window: Decades of step within which changes coincide (phase transitions) or a fade
            and a rise pair up (handovers): 0.25 is a factor of 1.8 in steps.
        fdr: Benjamini-Hochberg false discovery rate over the heads tested, for handovers.
        rule: The emergence definition's settings.
        character: When a transition is abrupt (:mod:`tracker.events.character`).
    """

    axis: str = "log_step"
    window: float = 0.25
    fdr: float = 0.05
    rule: EmergenceRule = field(default_factory=EmergenceRule)
    character: CharacterRule = field(default_factory=CharacterRule)


def bh_reject(p_values: Iterable[float], q: float) -> np.ndarray:
    """Benjamini-Hochberg: which hypotheses are rejected at false discovery rate ``q``."""
    p = np.asarray(list(p_values), float)
    if p.size == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p)
    ranked = p[order] <= q * np.arange(1, p.size + 1) / p.size
    out = np.zeros(p.size, dtype=bool)
    if ranked.any():
        out[order[: int(np.max(np.flatnonzero(ranked))) + 1]] = True
    return out


def _series_event(series: str, spec: SeriesSpec, axis: Axis, options: DetectOptions,
                  tokens_per_step: int) -> tuple[list[Event], float | None]:
    """Events of one series and the p-value of its test (None if not tested)."""
    finds = classify_all(spec.values, axis.x, log_t=axis.log_t,
                    higher_is_mechanism=spec.higher_is_mechanism, threshold=spec.threshold,
                    resolution=spec.resolution, loss_like=is_loss_like(spec.metric)
                    or spec.higher_is_mechanism is None and is_loss_like(spec.probe),
                    span=spec.span, rule=options.rule, standard_error=spec.standard_error)
    out = []
    for i in finds[0].outliers:
        step = float(axis.steps[i])
        out.append(Event(series, "outlier", spec.probe, spec.metric, spec.layer, spec.head,
                         step, step, step, step * tokens_per_step, step * tokens_per_step,
                         step * tokens_per_step, float(spec.values[i]), 0.0, DETECTOR, "",
                         float("nan"), "isolated outlier: quality warning, not a change"))
    for find in finds:
        tr = find.transition
        if not find.kind or tr is None:
            continue
        kind = "change" if spec.higher_is_mechanism is None else find.kind
        onset, mid, end = (axis.step_at(v) for v in (tr.onset_x, tr.midpoint_x, tr.end_x))
        # The width comes from the refined fit (the test's grid has six widths).
        w_on, w_end = (axis.step_at(v) for v in (find.width_x or (tr.onset_x, tr.end_x)))
        decades = width_decades(w_on, w_end)
        out.append(Event(series, kind, spec.probe, spec.metric, spec.layer, spec.head, onset,
                         mid, end, onset * tokens_per_step, mid * tokens_per_step,
                         end * tokens_per_step, find.magnitude, tr.confidence, DETECTOR, "",
                         tr.p_value, tr.evidence, (w_end - w_on) * tokens_per_step, decades,
                         find.largest_share,
                         options.character.label(decades, find.largest_share)))
    tr0 = finds[0].transition
    return out, (None if tr0 is None else min(f.p_value for f in finds))


def _decade(step: float) -> float:
    return float(np.log10(max(step, 0.0) + 1.0))


def phase_transitions(events: list[Event], window: float) -> list[Event]:
    """Group significant changes of at least two different probes within ``window`` decades."""
    changes = sorted((e for e in events if e.kind in CHANGE_KINDS),
                     key=lambda e: _decade(e.midpoint_step))
    out: list[Event] = []
    group: list[Event] = []

    def close() -> None:
        best: dict[str, Event] = {}
        for e in group:
            if e.probe not in best or e.p_value < best[e.probe].p_value:
                best[e.probe] = e
        if len(best) < 2:
            return
        members = sorted(best.values(), key=lambda e: e.midpoint_step)
        mids = [e.midpoint_step for e in members]
        label = "; ".join(
            f"{e.probe}/{e.metric}{('[' + e.head_label + ']') if e.layer >= 0 else ''} "
            f"{e.kind}@{e.midpoint_step:.0f} (p {e.p_value:.3g}; {e.evidence})" for e in members)
        first = members[0]
        out.append(Event(
            first.series, "phase_transition", "", "+".join(f"{e.probe}/{e.metric}"
                                                          for e in members),
            -1, -1, min(e.onset_step for e in members), float(np.median(mids)),
            max(e.end_step for e in members), min(e.onset_tokens for e in members),
            float(np.median([e.midpoint_tokens for e in members])),
            max(e.end_tokens for e in members), float(len(members)),
            min(e.confidence for e in members), DETECTOR, label,
            max(e.p_value for e in members), f"{len(members)} probes within {window} decades"))

    for e in changes:
        if group and _decade(e.midpoint_step) - _decade(group[0].midpoint_step) > window:
            close()
            group = []
        group.append(e)
    close()
    return out


def handovers(events: list[Event], tested: dict[str, list[float]], fdr: float,
              window: float) -> list[Event]:
    """Pair a head's fade with another head's rise of the same metric, both surviving BH."""
    out = []
    for metric, p_values in tested.items():
        if not p_values:
            continue
        rejected = bh_reject(p_values, fdr)
        cutoff = max((p for p, r in zip(p_values, rejected, strict=True) if r), default=-1.0)
        heads = [e for e in events if e.metric == metric and e.layer >= 0
                 and e.p_value <= cutoff]
        for fade in (e for e in heads if e.kind == "fade"):
            for rise in (e for e in heads if e.kind == "emergence"):
                if rise.head_label == fade.head_label or abs(
                        _decade(rise.midpoint_step) - _decade(fade.midpoint_step)) > window:
                    continue
                out.append(Event(
                    fade.series, "handover", fade.probe, metric, rise.layer, rise.head,
                    min(fade.onset_step, rise.onset_step),
                    (fade.midpoint_step + rise.midpoint_step) / 2,
                    max(fade.end_step, rise.end_step), min(fade.onset_tokens, rise.onset_tokens),
                    (fade.midpoint_tokens + rise.midpoint_tokens) / 2,
                    max(fade.end_tokens, rise.end_tokens), rise.magnitude,
                    min(fade.confidence, rise.confidence), DETECTOR,
                    f"{fade.head_label}->{rise.head_label}", max(fade.p_value, rise.p_value),
                    f"fade p {fade.p_value:.3g}, rise p {rise.p_value:.3g}, "
                    f"BH {fdr} over {len(p_values)} heads"))
    return out


def find_in_series(series: str, steps: np.ndarray, specs: Iterable[SeriesSpec],
                   tokens_per_step: int = 1, options: DetectOptions | None = None,
                   ) -> list[Event]:
    """Every event in a set of series on one schedule, sorted by midpoint step.

    Args:
        series: Series id recorded on the events.
        steps: Checkpoint steps (strictly increasing).
        specs: The series to test.
        tokens_per_step: Tokens per step.
        options: Detection options.

    Returns:
        Emergences, fades, changes, outliers, phase transitions and handovers.
    """
    options = options or DetectOptions()
    axis = Axis(np.asarray(steps, float), options.axis, tokens_per_step)
    events: list[Event] = []
    tested: dict[str, list[float]] = {}
    for spec in specs:
        found, p = _series_event(series, spec, axis, options, tokens_per_step)
        events.extend(found)
        if spec.layer >= 0 and p is not None:
            tested.setdefault(spec.metric, []).append(p)
    events.extend(phase_transitions(events, options.window))
    events.extend(handovers(events, tested, options.fdr, options.window))
    return sorted(events, key=lambda e: (e.midpoint_step, e.kind, e.metric, e.layer, e.head))

