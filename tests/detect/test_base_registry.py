"""Detector interface, configs, the x-axis helper and the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tracker.detect import (
    DEFAULT_DETECTOR,
    ChangePoint,
    detector_names,
    get_detector,
    make_x_axis,
    robust_noise,
)
from tracker.detect.base import lag_noise
from tracker.detect.bocpd import BocpdConfig
from tracker.detect.pelt import Pelt
from tracker.detect.registry import detector_class
from tracker.errors import TrackerError, UnknownNameError

#: Detectors that place a change at the first point of the new segment. ``sigmoid`` reports
#: the fitted 10% onset instead (continuous x, index of the checkpoint before it).
SEGMENTERS = [name for name in detector_names() if name != "sigmoid"]


def test_registry_lists_the_default():
    # Every detector class of the package is registered: test_detector_contract.py.
    assert DEFAULT_DETECTOR in detector_names()
    assert detector_class("pelt") is Pelt


def test_unknown_detector_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="unknown detector 'nope'.*pelt"):
        get_detector("nope")
    assert issubclass(UnknownNameError, TrackerError)


def test_get_detector_applies_overrides_and_rejects_unknown_fields():
    det = get_detector("pelt", penalty_scale=7.5)
    assert det.config.penalty_scale == 7.5
    assert get_detector().name == DEFAULT_DETECTOR
    with pytest.raises(TypeError):
        get_detector("pelt", no_such_field=1)


def test_config_json_and_hash_are_stable_and_change_with_fields():
    a, b = BocpdConfig(), BocpdConfig()
    assert a.to_json() == b.to_json()
    assert a.config_hash() == b.config_hash()
    assert len(a.config_hash()) == 16
    doc = json.loads(a.to_json())
    assert doc["hazard_lambda"] == 1000.0
    assert list(doc) == sorted(doc)
    changed = a.replace(hazard_lambda=50.0)
    assert changed.config_hash() != a.config_hash()
    det = get_detector("bocpd")
    assert det.key == f"v{det.version}-{a.config_hash()}"


def test_make_x_axis():
    steps = [0, 1, 9, 99]
    np.testing.assert_allclose(make_x_axis(steps), [0.0, np.log10(2), 1.0, 2.0])
    np.testing.assert_allclose(make_x_axis(steps, axis="index"), [0, 1, 2, 3])
    np.testing.assert_allclose(
        make_x_axis(steps, tokens=[0, 5, 45, 495], axis="tokens"), [0, 5, 45, 495]
    )
    with pytest.raises(ValueError, match="tokens"):
        make_x_axis(steps, axis="tokens")
    with pytest.raises(ValueError, match="unknown x axis"):
        make_x_axis(steps, axis="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        make_x_axis([-1, 2])


def test_robust_noise_recovers_sd_despite_a_level_shift():
    rng = np.random.default_rng(3)
    y = rng.normal(0, 0.5, 400) + np.r_[np.zeros(200), 10 * np.ones(200)]
    assert lag_noise(y, 1) == pytest.approx(0.5, rel=0.15)
    assert robust_noise(y, 0.05) == pytest.approx(0.5, rel=0.15)


def test_robust_noise_counts_slow_wander():
    # A random walk with unit steps: lag-k differences have sd sqrt(k), so the lag-k
    # estimate is sqrt(k / 2); averaging lags 1..50 gives several times the lag-1 value.
    rng = np.random.default_rng(4)
    y = np.cumsum(rng.normal(0, 1, 500))
    assert lag_noise(y, 1) == pytest.approx(np.sqrt(0.5), rel=0.2)
    assert lag_noise(y, 16) == pytest.approx(np.sqrt(8.0), rel=0.35)
    assert robust_noise(y, 0.1) > 3 * lag_noise(y, 1)


def test_robust_noise_never_zero():
    assert robust_noise(np.zeros(20)) > 0
    assert robust_noise(np.r_[np.zeros(10), np.ones(10)]) > 0


@pytest.mark.parametrize("name", SEGMENTERS)
def test_nans_are_dropped_and_indices_map_back(name):
    rng = np.random.default_rng(5)
    y = np.r_[np.zeros(60), np.ones(60)] + rng.normal(0, 0.05, 120)
    y[[5, 30, 59, 61, 100]] = np.nan
    cps = get_detector(name).detect(y)
    assert [cp.index for cp in cps] == [60]
    cp = cps[0]
    assert isinstance(cp, ChangePoint)
    assert cp.x == 60.0
    assert cp.size == pytest.approx(1.0, abs=0.05)
    assert 0.99 <= cp.confidence <= 1.0


@pytest.mark.parametrize("name", detector_names())
def test_sign_of_size_follows_the_change(name):
    x = np.linspace(0, 5, 150)
    rng = np.random.default_rng(6)
    y = 0.9 - 0.8 / (1 + np.exp(-(x - 2.5) / 0.05)) + rng.normal(0, 0.02, 150)
    cps = get_detector(name).detect(y, x)
    assert cps, name
    assert all(cp.size < 0 for cp in cps)
    assert sum(cp.size for cp in cps) == pytest.approx(-0.8, abs=0.1)


def test_detect_validates_input():
    det = get_detector("pelt")
    with pytest.raises(ValueError, match="1-d"):
        det.detect(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="shape"):
        det.detect(np.zeros(10), np.arange(9.0))
    with pytest.raises(ValueError, match="increasing"):
        det.detect(np.zeros(10), np.r_[np.arange(5.0), np.arange(5.0)])
    assert det.detect(np.array([1.0, np.nan, 2.0])) == []
