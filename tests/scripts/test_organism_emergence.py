"""The emergence script's acceptance arithmetic on hand-made curves."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.scripts import load_script


@pytest.fixture(scope="module")
def emergence():
    return load_script("organism_emergence")


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


def test_first_crossing_is_a_diagnostic(emergence) -> None:
    curve = emergence.Curve("icl_score", STEPS, [0.0, -0.2, -0.6, -0.4, -1.0, -1.0, -1.0])
    assert curve.first_crossing(-0.5, "below") == 200
    assert curve.first_crossing(-5.0, "below") is None


LONG = [0] + [int(round(10 ** (k / 4))) for k in range(0, 17)]  # 0, 1, 2, 3, 6, 10 ... 10000


def _rise(mid: float, low: float, high: float, seed: int, sd: float = 0.01) -> list[float]:
    x = np.log10(np.asarray(LONG, float) + 1)
    y = low + (high - low) / (1 + np.exp(-(x - np.log10(mid + 1)) / 0.1))
    return list(y + np.random.default_rng(seed).normal(0, sd, len(x)))


def test_emerges_at_is_the_package_definition(emergence) -> None:
    curve = emergence.Curve("induction_score", LONG, _rise(300, 0.02, 0.8, 0))
    onset = curve.emerges_at(0.5, "above")
    assert onset is not None and 30 <= onset <= 300
    # A single checkpoint past the target is an outlier, not an emergence (a first
    # crossing would call it one).
    spike = [0.02 + 0.005 * np.sin(i) for i in range(len(LONG))]
    spike[9] = 0.9
    flat = emergence.Curve("induction_score", LONG, spike)
    assert flat.first_crossing(0.5, "above") == LONG[9]
    assert flat.emerges_at(0.5, "above") is None
    # A rise that stays below the target does not emerge; too few checkpoints never do.
    assert emergence.Curve("x", LONG, _rise(300, 0.02, 0.4, 1)).emerges_at(0.5, "above") is None
    assert emergence.Curve("x", STEPS, [0, 0, 0, 1, 1, 1, 1]).emerges_at(0.5, "above") is None


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


def _seed_curves(emergence, succession_high: float, ioi_high: float, seed: int) -> dict:
    return {
        "induction_score": emergence.Curve("induction_score", LONG,
                                           _rise(100, 0.02, 0.8, seed)),
        "succession_score": emergence.Curve("succession_score", LONG,
                                            _rise(1000, 0.1, succession_high, seed + 1)),
        "ioi_logit_diff": emergence.Curve("ioi_logit_diff", LONG,
                                          _rise(1000, 0.0, ioi_high, seed + 2, 0.02)),
    }


def test_seed_comparison_reports_each_onset(emergence) -> None:
    a, b = _seed_curves(emergence, 0.8, 2.0, 0), _seed_curves(emergence, 0.7, 1.5, 10)
    same, text = emergence.seed_comparison({"a": a, "b": b})
    assert same
    onset = a["induction_score"].emerges_at(0.5, "above")
    assert onset is not None and 10 <= onset <= 100
    final = a["induction_score"].values[-1]
    assert text.startswith(f"seeds give the same mechanisms: a: induction (max head) from step "
                           f"{onset} ({final:.2f} at the end), succession (max head) from step ")
    assert text.count("IOI logit diff from step") == 2


def test_seed_comparison_flags_a_missing_mechanism(emergence) -> None:
    a, b = _seed_curves(emergence, 0.8, 2.0, 0), _seed_curves(emergence, 0.4, 1.5, 10)
    same, text = emergence.seed_comparison({"a": a, "b": b})
    assert not same
    b_part = text.split("; b: ")[1]
    assert "succession" not in b_part and b_part.startswith("induction (max head) from step ")
    assert "IOI logit diff from step" in b_part
