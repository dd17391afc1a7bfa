"""Synthetic emergence curves with known onsets on the Pythia grid.

"Within one checkpoint" means: the reported index is within +-1 of the index of the
checkpoint nearest the true onset (the 10% point of the rise). We judge against the onset,
not the midpoint, because both detectors below report the onset: the sigmoid fit returns its
10% point, and PELT's line segments put their first break where the flat stretch meets the
rise, which for a logistic is within a fraction of the scale of the 10% point.
For the default detector the located change point is its first change point with a positive
size (the first break of the rise).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.curves import emergence_curve, nearest_index
from tracker.detect import DEFAULT_DETECTOR, detector_names, get_detector

N_CURVES = 60


def _recovered(det, x: np.ndarray, seed: int, use_onset_fit: bool) -> tuple[int, int]:
    """(onsets recovered within one checkpoint, curves) over N_CURVES seeded curves."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(N_CURVES):
        y, onset, _mid = emergence_curve(rng, x)
        rising = [cp for cp in det.detect(y, x) if cp.size > 0]
        if not rising:
            continue
        cp = rising[0]
        found = nearest_index(x, cp.onset.onset) if use_onset_fit else cp.index
        hits += abs(found - nearest_index(x, onset)) <= 1
    return hits, N_CURVES


def test_sigmoid_recovers_onset_within_one_checkpoint(pythia_x):
    det = get_detector("sigmoid", n_boot=0)
    hits, total = _recovered(det, pythia_x, seed=11, use_onset_fit=True)
    assert hits / total >= 0.9, f"{hits}/{total}"


def test_sigmoid_change_point_index_is_the_onset_checkpoint(pythia_x):
    det = get_detector("sigmoid", n_boot=0)
    rng = np.random.default_rng(12)
    for _ in range(10):
        y, _, _ = emergence_curve(rng, pythia_x)
        (cp,) = det.detect(y, pythia_x)
        assert cp.index == nearest_index(pythia_x, cp.onset.onset)
        assert cp.x == cp.onset.onset


def test_default_detector_locates_onset_within_one_checkpoint(pythia_x):
    assert DEFAULT_DETECTOR == "pelt"
    hits, total = _recovered(get_detector(), pythia_x, seed=13, use_onset_fit=False)
    assert hits / total >= 0.9, f"{hits}/{total}"


@pytest.mark.parametrize("name", detector_names())
def test_every_detector_finds_the_rise(name, pythia_x):
    det = get_detector(name, **({"n_boot": 0} if name == "sigmoid" else {}))
    rng = np.random.default_rng(14)
    found = 0
    for _ in range(20):
        y, onset, _ = emergence_curve(rng, pythia_x)
        rising = [cp for cp in det.detect(y, pythia_x) if cp.size > 0]
        found += bool(rising)
    assert found >= 18, f"{name}: {found}/20"


@pytest.mark.parametrize("name", detector_names())
def test_no_event_on_flat_noisy_curves(name, pythia_x):
    det = get_detector(name, **({"n_boot": 0} if name == "sigmoid" else {}))
    rng = np.random.default_rng(15)
    n, quiet = 60, 0
    for _ in range(n):
        sd = rng.uniform(0.01, 0.03)
        y = 0.05 + rng.normal(0, sd, len(pythia_x))
        quiet += not det.detect(y, pythia_x)
    assert quiet / n >= 0.95, f"{name}: {quiet}/{n} quiet"
