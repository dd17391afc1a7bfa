"""The induction circuit's parts, in the order they form (Singh et al. 2024).

For each *induction head* of a store (final ``induction_score``, the median of the last three
checkpoints, at or above the induction probe's threshold), its *previous-token partner* is the
earlier-layer head with the largest K-composition into it at the end of training (same
median; :mod:`tracker.probes.composition`). Four parts are then timed, each as the midpoint of
the first emergence of its series by the package's one definition
(:mod:`tracker.events.emergence`, through :func:`~tracker.events.core.find_in_series`, as
``tracker detect`` finds them):

* ``prev_token``: the partner's ``prev_token_score`` (induction probe);
* ``k_composition``: the pair's ``k_comp`` (composition probe; its range over all pairs is the
  span of the definition's relative-size test);
* ``induction``: the head's ``induction_score`` (the induction stripe);
* ``copying``: the head's ``copying_eigen`` (Elhage et al.'s OV copying score, copying probe).

A part whose series has no emergence has no event time (it was there from the start, rose
without a step the definition accepts, e.g. in two stages, or never formed): the final value is
reported beside it. Every part also gets a descriptive time that needs no test, its
*half-rise step*: the first checkpoint at which the series is at least half-way from its
initial level (median of the first ``tail`` checkpoints) to its final level, defined only when
the final level is above the initial one (a part that ends lower never formed). Parts whose
times lie within ``tie_decades`` of each other are written as simultaneous (``=``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tracker.events.core import DetectOptions, SeriesSpec, find_in_series
from tracker.events.find import head_spec
from tracker.events.model import Event
from tracker.labels import head_label
from tracker.store import SeriesStore

if TYPE_CHECKING:
    import pandas as pd

#: The parts, in the order Singh et al.'s account has them depend on each other.
PARTS = ("prev_token", "k_composition", "induction", "copying")
_METRICS = {"prev_token": ("induction", "prev_token_score"),
            "k_composition": ("composition", "k_comp"),
            "induction": ("induction", "induction_score"),
            "copying": ("copying", "copying_eigen")}
LONG_COLUMNS = ("series", "head", "partner", "part", "probe", "metric", "unit", "final",
                "half_step", "onset_step", "midpoint_step", "end_step", "midpoint_tokens",
                "width_decades", "largest_share", "character")


@dataclass(frozen=True)
class OrderConfig:
    """Settings of :func:`induction_parts`.

    Attributes:
        tail: Checkpoints at the end whose median is the "final" value.
        tie_decades: Midpoints closer than this (decades of step) count as simultaneous.
        options: Detection options (the emergence definition's settings).
    """

    tail: int = 3
    tie_decades: float = 0.05
    options: DetectOptions | None = None


def _final(values: np.ndarray, tail: int) -> np.ndarray:
    """Median of the last ``tail`` finite checkpoints along axis 0 (NaN where none)."""
    out = np.full(values.shape[1:], np.nan)
    for index in np.ndindex(values.shape[1:]):
        y = values[(slice(None), *index)]
        y = y[np.isfinite(y)]
        if y.size:
            out[index] = float(np.median(y[-tail:]))
    return out


def half_rise_step(values: np.ndarray, steps: np.ndarray, tail: int = 3) -> float:
    """First step at least half-way from the initial to the final level (module docstring).

    NaN when the final level is not above the initial one or there are too few values.
    """
    keep = np.isfinite(values)
    y, x = np.asarray(values, float)[keep], np.asarray(steps, float)[keep]
    if len(y) < 2 * tail:
        return float("nan")
    start, end = float(np.median(y[:tail])), float(np.median(y[-tail:]))
    if not end > start:
        return float("nan")
    return float(x[np.argmax(y >= (start + end) / 2)])


def _first_emergence(store: SeriesStore, spec: SeriesSpec,
                     options: DetectOptions | None) -> Event | None:
    found = find_in_series(store.series_id, store.steps, [spec], store.tokens_per_step, options)
    rises = [e for e in found if e.kind == "emergence"]
    return min(rises, key=lambda e: e.midpoint_step) if rises else None


def induction_parts(store: SeriesStore, config: OrderConfig | None = None) -> pd.DataFrame:
    """Time the four parts of every induction head's circuit in one store.

    Returns:
        Long DataFrame (:data:`LONG_COLUMNS`): one row per (induction head, part); ``unit`` is
        the head (or ``partner>head`` pair) measured, times are NaN and ``character`` '' where
        the part has no emergence. Empty when the store has no induction head or lacks the
        induction, composition or copying probe.
    """
    import pandas as pd

    config = config or OrderConfig()
    probes = {p for p, _ in store.variants()}
    if not {"induction", "composition", "copying"} <= probes:
        return pd.DataFrame(columns=list(LONG_COLUMNS))
    info = {part: next(i for i in store.metric_infos(probe) if i.name == name)
            for part, (probe, name) in _METRICS.items()}
    induction = store.metric("induction", "induction_score")
    threshold = info["induction"].threshold or 0.0
    k_comp = store.metric("composition", "k_comp")
    pairs = np.asarray(store.static("composition", "pairs")).reshape(-1, 4)
    final_k = _final(k_comp, config.tail)
    finite = k_comp[np.isfinite(k_comp)]
    k_span = float(np.ptp(finite)) if finite.size else None
    rows = []
    final_ind = _final(induction, config.tail)
    for layer, head in zip(*np.nonzero(final_ind >= threshold), strict=True):
        into = np.flatnonzero((pairs[:, 2] == layer) & (pairs[:, 3] == head)
                              & np.isfinite(final_k))
        if not into.size:
            continue  # a layer-0 head has no earlier partner
        link = int(into[np.argmax(final_k[into])])
        p_layer, p_head = int(pairs[link, 0]), int(pairs[link, 1])
        label, partner = head_label(layer, head), head_label(p_layer, p_head)
        specs = {
            "prev_token": head_spec(store, info["prev_token"], p_layer, p_head),
            "k_composition": SeriesSpec("composition", "k_comp", k_comp[:, link], int(layer),
                                        int(head), higher_is_mechanism=True, span=k_span),
            "induction": head_spec(store, info["induction"], int(layer), int(head)),
            "copying": head_spec(store, info["copying"], int(layer), int(head)),
        }
        for part in PARTS:
            spec = specs[part]
            event = _first_emergence(store, spec, config.options)
            y = spec.values[np.isfinite(spec.values)]

            def get(name: str, ev: Event | None = event) -> float | str:
                if ev is None:
                    return "" if name == "character" else float("nan")
                value = getattr(ev, name)
                return value if isinstance(value, str) else float(value)

            rows.append({
                "series": store.series_id, "head": label, "partner": partner, "part": part,
                "probe": spec.probe, "metric": spec.metric,
                "unit": f"{partner}>{label}" if part == "k_composition"
                else (partner if part == "prev_token" else label),
                "final": float(np.median(y[-config.tail:])) if y.size else float("nan"),
                "half_step": half_rise_step(spec.values, store.steps, config.tail),
                **{name: get(name) for name in LONG_COLUMNS[9:]}})
    return pd.DataFrame(rows, columns=list(LONG_COLUMNS))


def order_text(times: dict[str, float], tie_decades: float) -> str:
    """``prev_token < k_composition = induction < copying``: parts by time, then the untimed.

    Args:
        times: Part -> midpoint step (NaN: no emergence).
        tie_decades: Midpoints closer than this (decades of step) are joined by ``=``.
    """
    timed = sorted((t, p) for p, t in times.items() if np.isfinite(t))
    text = ""
    for i, (t, part) in enumerate(timed):
        if i:
            close = abs(np.log10(t + 1) - np.log10(timed[i - 1][0] + 1)) < tie_decades
            text += " = " if close else " < "
        text += part
    missing = [p for p, t in times.items() if not np.isfinite(t)]
    return text + (f" (no event: {', '.join(missing)})" if missing else "")


def order_table(parts: pd.DataFrame, tie_decades: float = OrderConfig.tie_decades,
                ) -> pd.DataFrame:
    """One row per (series, induction head): partner, each part's times, the two orders.

    ``{part}_step`` and ``order`` are by emergence midpoints, ``{part}_half`` and
    ``order_half`` by half-rise steps.

    Args:
        parts: :func:`induction_parts` of one or more stores, concatenated.
        tie_decades: See :func:`order_text`.
    """
    import pandas as pd

    columns = ["series", "head", "partner", "k_comp_final", *(f"{p}_step" for p in PARTS),
               "order", *(f"{p}_half" for p in PARTS), "order_half"]
    rows = []
    for (series, head), group in parts.groupby(["series", "head"], sort=False):
        by_part = group.set_index("part")
        times = {p: float(by_part.at[p, "midpoint_step"]) for p in PARTS}
        halves = {p: float(by_part.at[p, "half_step"]) for p in PARTS}
        rows.append({"series": series, "head": head, "partner": by_part["partner"].iloc[0],
                     "k_comp_final": float(by_part.at["k_composition", "final"]),
                     **{f"{p}_step": times[p] for p in PARTS},
                     "order": order_text(times, tie_decades),
                     **{f"{p}_half": halves[p] for p in PARTS},
                     "order_half": order_text(halves, tie_decades)})
    return pd.DataFrame(rows, columns=columns)


def store_order(store: SeriesStore, config: OrderConfig | None = None) -> pd.DataFrame:
    """:func:`order_table` of one store (what ``tracker query order`` prints)."""
    config = config or OrderConfig()
    return order_table(induction_parts(store, config), config.tie_decades)
