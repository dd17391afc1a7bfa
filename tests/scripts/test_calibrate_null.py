"""scripts/calibrate_null.py: the raw false-positive rate of the transition test on nulls."""

from __future__ import annotations

from tests.support.scripts import load_script


def _load():
    return load_script("calibrate_null")


def test_white_noise_gives_no_confident_event_and_figures_are_printed() -> None:
    lines: list[str] = []
    out = _load().run(3, 3, lines.append, families=("white", "ar1_rho0.9"))
    assert set(out) == {"white", "ar1_rho0.9"}
    assert out["white"] == (0.0, 0.0)
    at95, at99 = out["ar1_rho0.9"]
    assert 0.0 <= at99 <= at95 <= 1.0
    assert lines[1] == (f"ar1_rho0.9       n 3  P(event conf>=0.95) {at95:.3f}  "
                        f"P(event conf>=0.99) {at99:.3f}")
    assert lines[-1] == f"all 6 curves: conf>=0.95 {at95 / 2:.3f}  conf>=0.99 {at99 / 2:.3f}"
