"""The event definition on curves whose truth is known: nulls give nothing, plants are found."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.detect.noise import estimate_resolution, find_outliers
from tracker.errors import TrackerError
from tracker.events import SeriesSpec, detect_arrays, detect_csv, find_in_series
from tracker.events.core import bh_reject

STEPS = np.array([0] + [2**k for k in range(10)] + list(range(1000, 143001, 1000)), float)
X = np.log10(STEPS + 1.0)


def _rise(rng: np.random.Generator, mid: float, sd: float = 0.03) -> np.ndarray:
    return 0.05 + 0.6 / (1 + np.exp(-(X - mid) / 0.02)) + rng.normal(0, sd, len(X))


def test_smooth_power_law_loss_gives_no_event():
    rng = np.random.default_rng(101)
    hits = 0
    for _ in range(8):
        loss = 2.5 + 6 * (STEPS + 1) ** -0.4 + rng.normal(0, 0.02, len(X))
        hits += len(detect_arrays(STEPS, {"loss": loss}))
    assert hits == 0


def test_quantized_flicker_by_one_quantum_is_never_an_event():
    q = 1 / 319
    y = np.full(len(X), 64 * q)
    y[[20, 50, 80, 90, 120, 150]] += q
    assert estimate_resolution(y) == pytest.approx(q)
    frame = detect_arrays(STEPS, {"score": y}, thresholds={"score": 0.2 + q / 2})
    assert frame.empty


def test_last_point_outlier_is_a_warning_not_a_change():
    rng = np.random.default_rng(5)
    y = 0.1 + rng.normal(0, 0.02, len(X))
    y[-1] = 0.8
    assert list(find_outliers(y)) == [len(X) - 1]
    frame = detect_arrays(STEPS, {"score": y}, thresholds={"score": 0.4})
    assert list(frame["kind"]) == ["outlier"]
    assert frame["midpoint_step"].iloc[0] == STEPS[-1]


def test_planted_rise_and_loss_drop_make_a_phase_transition_with_evidence():
    rng = np.random.default_rng(9)
    mid = np.log10(2001)
    loss = 2.5 + 6 * (STEPS + 1) ** -0.4 - 0.35 / (1 + np.exp(-(X - mid) / 0.02)) \
        + rng.normal(0, 0.02, len(X))
    events = find_in_series("s", STEPS, [
        SeriesSpec("induction", "score", _rise(rng, mid), threshold=0.4),
        SeriesSpec("loss", "loss", loss, higher_is_mechanism=None)])
    kinds = sorted(e.kind for e in events)
    assert kinds == ["change", "emergence", "phase_transition"]
    rise = next(e for e in events if e.kind == "emergence")
    assert abs(np.log10(rise.midpoint_step + 1) - mid) < 0.05
    assert rise.confidence >= 0.99 and rise.p_value <= 0.01
    phase = next(e for e in events if e.kind == "phase_transition")
    assert "induction/score" in phase.members and "loss/loss" in phase.members


def test_two_metrics_of_one_probe_are_one_member():
    rng = np.random.default_rng(3)
    mid = np.log10(3001)
    events = find_in_series("s", STEPS, [
        SeriesSpec("induction", "a", _rise(rng, mid), threshold=0.4),
        SeriesSpec("induction", "b", _rise(rng, mid), threshold=0.4)])
    assert sorted(e.kind for e in events) == ["emergence", "emergence"]


def test_bh_rejects_in_rank_order():
    assert list(bh_reject([0.001, 0.02, 0.04, 0.5], 0.05)) == [True, True, False, False]
    assert list(bh_reject([0.3, 0.6], 0.05)) == [False, False]


def test_csv_detection_and_bad_input(tmp_path):
    rng = np.random.default_rng(4)
    y = _rise(rng, np.log10(501))
    path = tmp_path / "curves.csv"
    path.write_text("series,step,metric,value,threshold\n" + "".join(
        f"run,{int(s)},score,{v},0.4\n" for s, v in zip(STEPS, y, strict=True)))
    frame = detect_csv(path)
    assert list(frame["kind"]) == ["emergence"]
    bad = tmp_path / "bad.csv"
    bad.write_text("series,step,metric\nrun,1,score\n")
    with pytest.raises(TrackerError, match="bad.csv: missing column 'value'"):
        detect_csv(bad)


def test_a_change_within_two_standard_errors_of_the_probe_is_not_an_event():
    # A clean rise of 0.1 across the threshold: an event when the probe measures it to
    # +-0.01, not when another draw of its inputs could move the value by 0.1.
    rng = np.random.default_rng(7)
    y = 0.35 + 0.1 / (1 + np.exp(-(X - 3.5) / 0.03)) + rng.normal(0, 0.002, len(X))

    def kinds(se: float | None) -> list[str]:
        spec = SeriesSpec("p", "score", y, threshold=0.4, standard_error=se)
        return [e.kind for e in find_in_series("s", STEPS, [spec])]

    assert kinds(None) == ["emergence"]
    assert kinds(0.01) == ["emergence"]
    assert kinds(0.06) == []
