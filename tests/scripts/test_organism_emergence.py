"""The emergence script's acceptance arithmetic on hand-made curves."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "organism_emergence.py"


@pytest.fixture(scope="module")
def emergence():
    spec = importlib.util.spec_from_file_location("organism_emergence", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["organism_emergence"] = module
    spec.loader.exec_module(module)
    return module


STEPS = [0, 100, 200, 300, 400, 500, 600]


def test_induction_window_brackets_the_rise(emergence) -> None:
    # Final 0.8: below 0.16 last at step 200 (before the first >= 0.64 at step 400).
    curve = emergence.Curve("induction_score", STEPS, [0.01, 0.02, 0.1, 0.4, 0.7, 0.75, 0.8])
    assert emergence.induction_window(curve) == (200, 400)


def test_icl_that_rises_has_no_share(emergence) -> None:
    icl = emergence.Curve("icl_score", STEPS, [0.0, 0.5, 0.2, 0.1, 0.3, 0.4, 0.5])
    change = emergence.icl_phase_change(icl, (200, 400))
    assert change.inside == pytest.approx(0.1)
    assert change.share == 0.0


def test_emerges_at_is_the_first_crossing(emergence) -> None:
    curve = emergence.Curve("icl_score", STEPS, [0.0, -0.2, -0.6, -0.4, -1.0, -1.0, -1.0])
    assert curve.emerges_at(-0.5, "below") == 200
    assert curve.emerges_at(-5.0, "below") is None


def test_phase_change_compares_rates_inside_and_outside(emergence) -> None:
    # Window 200-400 (200 of 600 steps): -1.3 inside, -0.7 over the other 400 steps.
    icl = emergence.Curve("icl_score", STEPS, [0.0, -0.2, -0.5, -1.5, -1.8, -1.9, -2.0])
    change = emergence.icl_phase_change(icl, (200, 400))
    assert change.inside == pytest.approx(-1.3)
    assert change.share == pytest.approx(0.65)
    assert change.rate_ratio == pytest.approx((1.3 / 200) / (0.7 / 400))


def test_slow_drift_is_not_a_phase_change(emergence) -> None:
    icl = emergence.Curve("icl_score", STEPS, [-0.5 * i for i in range(7)])
    change = emergence.icl_phase_change(icl, (200, 400))
    assert change.rate_ratio == pytest.approx(1.0)
    assert change.rate_ratio < emergence.PHASE_RATE_RATIO


def test_fall_only_inside_the_window_has_infinite_ratio(emergence) -> None:
    icl = emergence.Curve("icl_score", STEPS, [0.0, 0.1, 0.0, -1.0, -2.0, -2.0, -2.0])
    change = emergence.icl_phase_change(icl, (200, 400))
    assert change.rate_ratio == float("inf")
    rising = emergence.Curve("icl_score", STEPS, [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0])
    assert emergence.icl_phase_change(rising, (200, 400)).rate_ratio == 0.0


def _seed_curves(emergence, succession_end: float, ioi_end: float) -> dict:
    rise = [0.0, 0.0, 0.2, 0.6, 0.8, 0.8, 0.8]
    return {
        "induction_score": emergence.Curve("induction_score", STEPS, rise),
        "succession_score": emergence.Curve("succession_score", STEPS,
                                            [0.0, 0.3, 0.4, 0.45, 0.5, succession_end,
                                             succession_end]),
        "ioi_logit_diff": emergence.Curve("ioi_logit_diff", STEPS,
                                          [0, 0, 0, 0, 0.5, ioi_end, ioi_end]),
    }


def test_seed_comparison_reports_each_onset(emergence) -> None:
    same, text = emergence.seed_comparison({
        "a": _seed_curves(emergence, 0.6, 1.5), "b": _seed_curves(emergence, 0.55, 1.2)})
    assert same
    assert "a: induction (max head) from step 300 (0.80 at the end), succession (max head) " \
           "from step 500 (0.60 at the end), IOI logit diff from step 500 (1.50 at the end);" \
           in text


def test_seed_comparison_flags_a_missing_mechanism(emergence) -> None:
    same, text = emergence.seed_comparison({
        "a": _seed_curves(emergence, 0.6, 1.5), "b": _seed_curves(emergence, 0.45, 1.2)})
    assert not same
    assert text.endswith("b: induction (max head) from step 300 (0.80 at the end), "
                         "IOI logit diff from step 500 (1.20 at the end)")
