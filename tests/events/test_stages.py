"""Stage boundaries at critical points of a curve over log-step, on curves with known ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.detection_stores import PER_STEP, STEPS, planted_store
from tracker.events import find_events
from tracker.events.stages import stage_boundaries, stage_events, store_stage_events
from tracker.store import Metric, ProbeResult, SeriesStore, StepShard, consolidate, write_shard


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_a_peak_is_one_boundary_at_its_top() -> None:
    steps = np.logspace(1, 5, 80)
    llc = np.exp(-(((np.log10(steps) - 3) / 0.5) ** 2))
    (b,) = stage_boundaries(steps, llc)
    assert b.shape == "peak"
    assert b.step == pytest.approx(1000, rel=0.1)
    # the top is flat (slope under 5% of the steepest) for a few percent of a decade
    assert b.start_step < b.step < b.end_step < 1.1 * b.start_step
    assert b.change > 0.5


def test_a_staircase_has_one_plateau_boundary_between_its_rises() -> None:
    """Rises at steps 100 and 10^4: the plateau between them (flat up to 5% of the steepest
    slope) is centred near 10^3; the flat ends of the curve are not boundaries."""
    steps = np.logspace(1, 5.5, 120)
    x = np.log10(steps)
    llc = 4.0 * (_sigmoid((x - 2) / 0.1) + _sigmoid((x - 4) / 0.1))
    (b,) = stage_boundaries(steps, llc)
    assert b.shape == "plateau"
    assert b.start_step < 1000 < b.end_step
    assert b.step == pytest.approx(1000, rel=0.25)
    assert b.change == pytest.approx(4.0, abs=0.3)
    assert b.prominence == pytest.approx(0.5, abs=0.05)


def test_a_monotone_curve_or_too_few_points_has_none() -> None:
    steps = np.logspace(1, 4, 30)
    assert stage_boundaries(steps, np.log10(steps)) == []
    assert stage_boundaries(steps[:2], np.ones(2)) == []
    assert stage_boundaries(steps, np.full(30, 2.0)) == []


def test_stage_events_carry_steps_and_tokens() -> None:
    steps = np.concatenate([[0.0], np.logspace(1, 5, 80)])  # step 0 has no log; left out
    llc = np.exp(-(((np.log10(np.maximum(steps, 1)) - 3) / 0.5) ** 2))
    (event,) = stage_events("s", steps, llc, tokens_per_step=2048.0)
    assert event.kind == "stage" and event.probe == "llc" and event.metric == "llc"
    assert (event.layer, event.head) == (-1, -1)
    assert event.midpoint_tokens == pytest.approx(event.midpoint_step * 2048.0)
    assert event.midpoint_step == pytest.approx(1000, rel=0.1)
    assert event.evidence == "peak" and 0.5 < event.confidence <= 1.0


def test_a_sharp_trough_is_a_sign_change_with_no_flat_stretch() -> None:
    """A V over log-step barely smoothed: the slope jumps from -1 to +1 between neighbouring
    grid points, so the boundary is the interpolated zero crossing (onset = end)."""
    steps = np.logspace(1, 5, 201)
    llc = np.abs(np.log10(steps) - 3.0)
    (b,) = stage_boundaries(steps, llc, bandwidth=0.005)
    assert b.shape == "trough"
    assert b.start_step == b.end_step == b.step
    assert b.step == pytest.approx(1000, rel=0.05)
    assert b.change == pytest.approx(-2.0, abs=0.05)


def test_find_events_adds_the_stages_of_a_stored_llc_curve(tmp_path: Path) -> None:
    """An LLC peaking at step 1000 on the Pythia-like grid (log-spaced, then every 1000):
    one ``stage`` event there among the store's events; a store without the llc probe has
    none."""
    path = tmp_path / "s.h5"
    for step in STEPS:
        x = np.log10(max(step, 1))
        shard = StepShard("org/s", PER_STEP, step, step * PER_STEP, f"step{step}", f"h{step}")
        res = ProbeResult("llc", 1, "{}", "2" * 16)
        res.add(Metric(name="llc", kind="scalar", description="llc", higher_is_mechanism=None),
                np.float32(20.0 * np.exp(-(((x - 3.0) / 0.6) ** 2))))
        shard.results[("llc", res.key)] = res
        write_shard(path, shard)
    consolidate(path, {"kind": "planted"})
    stages = [e for e in find_events(SeriesStore(path)) if e.kind == "stage"]
    assert len(stages) == 1
    assert stages[0].midpoint_step == pytest.approx(1000, rel=0.15)
    assert stages[0].midpoint_tokens == pytest.approx(stages[0].midpoint_step * PER_STEP)
    assert store_stage_events(SeriesStore(planted_store(tmp_path / "p.h5", "org/p", 500))) == []


#: Stage ends of Hoogland et al.'s 2-layer language model (their last, 50k, is training's end).
HOOGLAND_LM = (900, 6500, 8500, 17000)


def _rising_with_pauses(steps: np.ndarray, pauses: tuple[float, ...]) -> np.ndarray:
    """An LLC that rises over log-step in bursts, its slope sin^2-shaped between ``pauses``
    and zero only at them (no flat stretch, no sign change)."""
    edges = np.log10([50, *pauses, 50_000])
    fine = np.linspace(edges[0], edges[-1], 20_000)
    i = np.clip(np.searchsorted(edges, fine) - 1, 0, len(edges) - 2)
    slope = np.sin(np.pi * (fine - edges[i]) / (edges[i + 1] - edges[i])) ** 2
    return np.interp(np.log10(steps), fine, np.cumsum(slope) * (fine[1] - fine[0]))


def test_slowdowns_find_hooglands_boundaries_with_a_narrow_bandwidth() -> None:
    """100 log-spaced checkpoints (0.03 decades apart): at bandwidth 0.03 decades all four
    pauses are boundaries within 10% (plateaus where the smoothed slope falls under 5% of
    its largest, slowdowns elsewhere); at 0.05 the pause at 8.5k, 0.12 decades after the one
    at 6.5k, is lost; the default 0.15 keeps only the pause at 900; without the slowdown rule
    the default finds no boundary at all."""
    steps = np.logspace(np.log10(50), np.log10(50_000), 100)
    llc = _rising_with_pauses(steps, HOOGLAND_LM)
    found = stage_boundaries(steps, llc, bandwidth=0.03)
    assert [b.step for b in found] == pytest.approx(HOOGLAND_LM, rel=0.1)
    assert [b.shape for b in found] == ["plateau", "slowdown", "slowdown", "slowdown"]
    assert len(stage_boundaries(steps, llc, bandwidth=0.05)) == 3
    (default,) = stage_boundaries(steps, llc)
    assert default.step == pytest.approx(900, rel=0.15) and default.shape == "slowdown"
    assert stage_boundaries(steps, llc, dip=0.0) == []
