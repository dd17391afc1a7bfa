"""The one definition of emergence (and fading) of a metric, over arrays.

A series *emerges* at a transition when

1. isolated outliers (one checkpoint off its neighbours, the last one included) are set aside
   and reported as quality warnings, never as changes;
2. a localized logistic step beats the smooth null (a quadratic trend on the axis; a power
   law plus a constant for loss-like metrics) by the simulated likelihood-ratio test of
   :func:`tracker.detect.transition.test_transition` under AR(1) residuals, at
   ``p <= alpha`` (confidence ``1 - p``);
3. the step moves towards the mechanism (up when higher is the mechanism) by more than
   ``min_quanta`` resolutions, and crosses the threshold when the metric has one (the median
   of the three points before the onset on one side, of the three after the end on the
   other), or else moves by at least ``min_relative`` of the metric's range.

The same step away from the mechanism is a *fade*. ``tracker detect``, ``tracker query when``,
the report, W&B and ``scripts/organism_emergence.py`` all use this definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tracker.detect.noise import find_outliers
from tracker.detect.transition import (
    Transition,
    TransitionConfig,
    refine_width,
    test_transition,
)
from tracker.events.character import largest_share

#: Name, version and settings recorded with the events this definition finds.
DEFINITION = "transition"
DEFINITION_VERSION = 2


@dataclass(frozen=True)
class EmergenceRule:
    """Settings of the emergence definition.

    Attributes:
        alpha: Largest p-value of an event (confidence at least ``1 - alpha``).
        min_relative: For metrics without a threshold, the smallest change that counts, as a
            fraction of the metric's range.
        outlier_z: Distance from the neighbours, in noise sds, that makes a point an outlier.
        min_standard_errors: Smallest change that counts, in the probe's own standard errors
            (the median over checkpoints of the stored ``NAME_se``): a change another draw of
            the probe's inputs could undo is not a finding about the model.
        transition: Settings of the transition test.
    """

    alpha: float = 0.01
    min_relative: float = 0.25
    outlier_z: float = 8.0
    min_standard_errors: float = 2.0
    transition: TransitionConfig = field(default_factory=TransitionConfig)


@dataclass(frozen=True)
class SeriesFinding:
    """What the definition finds in one series.

    Attributes:
        kind: ``emergence``, ``fade`` or '' (no event).
        transition: The best localized transition and its evidence (None if none fits).
        outliers: Indices (into the series given) of isolated outliers.
        magnitude: Level after the transition minus level before (medians of three points
            after the end and before the onset); NaN without a transition.
        largest_share: Share of ``magnitude`` between one pair of consecutive checkpoints
            (:func:`tracker.events.character.largest_share`); NaN unless there is an event.
        width_x: (onset x, end x) of the step refitted on a fine grid of widths
            (:func:`tracker.detect.transition.refine_width`), for the event's width; None
            unless there is an event.
    """

    kind: str
    transition: Transition | None
    outliers: tuple[int, ...]
    magnitude: float = float("nan")
    largest_share: float = float("nan")
    width_x: tuple[float, float] | None = None

    @property
    def p_value(self) -> float:
        """p-value of the best transition (1 when there is none)."""
        return 1.0 if self.transition is None else self.transition.p_value


def is_loss_like(name: str) -> bool:
    """Whether a metric is a loss (its null is a power law plus a constant)."""
    return "loss" in name.lower() or "nll" in name.lower() or "perplexity" in name.lower()


def _level(y: np.ndarray, lo: int, hi: int) -> float:
    window = y[max(lo, 0): max(hi, lo + 1)]
    return float(np.median(window)) if len(window) else float("nan")


def classify_all(y: np.ndarray, x: np.ndarray, *, log_t: np.ndarray | None = None,
                 higher_is_mechanism: bool | None = True, threshold: float | None = None,
                 resolution: float | None = None, loss_like: bool = False,
                 span: float | None = None, rule: EmergenceRule | None = None,
                 min_points: int = 16, standard_error: float | None = None,
                 ) -> list[SeriesFinding]:
    """Apply :func:`classify` repeatedly, to find every transition of a series.

    After a significant transition, test the stretches before its onset and after its end
    (each of at least ``min_points`` checkpoints), so a
    rise followed by a fade gives both. Outliers are reported once, by the first finding.
    """
    y, x = np.asarray(y, float), np.asarray(x, float)
    lt = x if log_t is None else np.asarray(log_t, float)
    kw = {"higher_is_mechanism": higher_is_mechanism, "threshold": threshold,
          "resolution": resolution, "loss_like": loss_like, "span": span, "rule": rule,
          "standard_error": standard_error}
    first = classify(y, x, log_t=lt, **kw)  # type: ignore[arg-type]
    out = [first]
    tr = first.transition
    if tr is None or tr.p_value > (rule or EmergenceRule()).alpha:
        return out
    clean = np.flatnonzero(np.isfinite(y) & np.isfinite(x))
    clean = np.setdiff1d(clean, first.outliers)
    onset = int(np.searchsorted(x, tr.onset_x))
    end = int(np.searchsorted(x, tr.end_x, side="right"))
    for lo, hi in ((0, onset), (end, len(y))):
        part = clean[(clean >= lo) & (clean < hi)]
        if len(part) >= min_points:
            for f in classify_all(y[part], x[part], log_t=lt[part], min_points=min_points,
                                  **kw):  # type: ignore[arg-type]
                out.append(SeriesFinding(f.kind, f.transition, (), f.magnitude,
                                         f.largest_share, f.width_x))
    return out


def classify(y: np.ndarray, x: np.ndarray, *, log_t: np.ndarray | None = None,
             higher_is_mechanism: bool | None = True, threshold: float | None = None,
             resolution: float | None = None, loss_like: bool = False,
             span: float | None = None, rule: EmergenceRule | None = None,
             standard_error: float | None = None) -> SeriesFinding:
    """Apply the emergence definition to one series.

    Args:
        y: Values (NaN marks a missing checkpoint).
        x: Axis location of each value.
        log_t: log10(step + 1) of each value (the power-law clock; default ``x``).
        higher_is_mechanism: True if higher values are the mechanism, False if lower, None
            for an unoriented metric (a loss): then any step counts, as ``emergence`` when
            it rises and ``fade`` when it falls.
        threshold: The mechanism's threshold, or None.
        resolution: Quantum of a quantized metric, or None.
        loss_like: Use the power-law null.
        span: Range of the metric (all heads) for ``min_relative``; default this series'.
        standard_error: Typical standard error of one value (see ``min_standard_errors``),
            or None when the probe stores none.
        rule: Settings (defaults: :class:`EmergenceRule`).

    Returns:
        The finding: kind ('' for none), the transition tested and outlier indices.
    """
    rule = rule or EmergenceRule()
    y, x = np.asarray(y, float), np.asarray(x, float)
    lt = x if log_t is None else np.asarray(log_t, float)
    finite = np.flatnonzero(np.isfinite(y) & np.isfinite(x))
    if len(finite) < 8:
        return SeriesFinding("", None, ())
    yf = y[finite]
    bad = find_outliers(yf, resolution, rule.outlier_z)
    outliers = tuple(int(finite[i]) for i in bad)
    keep = np.setdiff1d(np.arange(len(yf)), bad)
    yc, xc, tc = yf[keep], x[finite][keep], lt[finite][keep]
    tr = test_transition(yc, xc, null="power_law" if loss_like else "trend", log_t=tc,
                         resolution=resolution, config=rule.transition)
    if tr is None:
        return SeriesFinding("", tr, outliers)
    before = _level(yc, tr.onset_index - 3, tr.onset_index)
    after = _level(yc, tr.end_index + 1, tr.end_index + 4)
    if tr.p_value > rule.alpha:
        return SeriesFinding("", tr, outliers, after - before)
    if (standard_error is not None and np.isfinite(standard_error)
            and abs(after - before) < rule.min_standard_errors * standard_error):
        return SeriesFinding("", tr, outliers, after - before)
    sign = 1.0 if higher_is_mechanism in (True, None) else -1.0
    rising = sign * tr.magnitude > 0
    if threshold is not None:
        thr = sign * threshold
        lo_side, hi_side = (before, after) if rising else (after, before)
        if not sign * lo_side < thr <= sign * hi_side:
            return SeriesFinding("", tr, outliers, after - before)
    elif higher_is_mechanism is not None:
        # (An unoriented metric such as the loss spans its early fall; the test decides.)
        ref = float(np.ptp(yc)) if span is None else span
        if abs(tr.magnitude) < rule.min_relative * ref:
            return SeriesFinding("", tr, outliers, after - before)
    share = largest_share(yc, tr.onset_index, tr.end_index, after - before)
    width_x = refine_width(yc, xc, tr, null=tr.null, log_t=tc, config=rule.transition)
    return SeriesFinding("emergence" if rising else "fade", tr, outliers, after - before, share,
                         width_x)
