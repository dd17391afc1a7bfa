"""What every registered change-point detector promises, checked for each registered name."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.contracts import (
    KEY_RE,
    NAME_RE,
    check_frozen_json_config,
    concrete_subclasses_in_package,
)
from tracker.detect import ChangePoint, detector_names, get_detector
from tracker.detect.base import Detector, DetectorConfig
from tracker.detect.registry import detector_class


def _check_change_points(cps: list[ChangePoint], n: int, x: np.ndarray) -> None:
    """Indices inside the series and sorted, x on the axis, confidence in [0, 1]."""
    assert [cp.index for cp in cps] == sorted(cp.index for cp in cps)
    for cp in cps:
        assert isinstance(cp, ChangePoint)
        assert 0 <= cp.index < n
        assert x[0] <= cp.x <= x[-1]
        assert 0.0 <= cp.confidence <= 1.0
        assert np.isfinite(cp.size)


def test_every_detector_class_in_the_package_is_registered() -> None:
    classes = concrete_subclasses_in_package("tracker.detect", Detector)
    assert classes
    for cls in classes:
        assert detector_class(cls.name) is cls, cls
    assert sorted(cls.name for cls in classes) == detector_names()


@pytest.mark.parametrize("name", detector_names())
def test_detector_names_itself_and_describes_itself(name: str) -> None:
    cls = detector_class(name)
    assert cls.name == name and NAME_RE.fullmatch(name)
    assert type(cls.version) is int and cls.version >= 1
    assert isinstance(cls.description, str) and cls.description.strip()
    assert "\n" not in cls.description


@pytest.mark.parametrize("name", detector_names())
def test_detector_config_is_frozen_json_with_a_stable_key(name: str) -> None:
    cls = detector_class(name)
    config = cls.Config()
    doc = check_frozen_json_config(config, DetectorConfig)
    det, again = get_detector(name), cls()
    assert det.config == config
    assert KEY_RE.fullmatch(det.key)
    assert det.key == again.key == f"v{cls.version}-{config.config_hash()}"
    assert cls.Config(**doc).config_hash() == config.config_hash()


@pytest.mark.parametrize("name", detector_names())
def test_detector_finds_nothing_in_a_constant_or_short_series(name: str) -> None:
    det = get_detector(name)
    assert det.detect(np.full(50, 0.3)) == []
    assert det.detect(np.full(50, 0.3), np.linspace(0.0, 4.0, 50)) == []
    assert det.detect(np.zeros(0)) == []
    assert det.detect(np.array([0.0, 1.0, 1.0])) == []
    assert det.detect(np.array([0.0, 0.0, np.nan, 1.0, np.nan])) == []


@pytest.mark.parametrize("axis", ["index", "linear"])
@pytest.mark.parametrize("name", detector_names())
def test_detector_finds_a_clean_step_where_it_is(name: str, axis: str) -> None:
    """A unit step at index 40 of 80 under noise of sd 0.02: the largest change found sits
    within two checkpoints of the step and has its size."""
    rng = np.random.default_rng(11)
    y = np.r_[np.zeros(40), np.ones(40)] + rng.normal(0, 0.02, 80)
    x = np.arange(80.0) if axis == "index" else np.linspace(0.0, 4.0, 80)
    cps = get_detector(name).detect(y, None if axis == "index" else x)
    assert cps
    _check_change_points(cps, 80, x)
    main = max(cps, key=lambda cp: abs(cp.size))
    assert abs(main.index - 40) <= 2, main
    assert abs(main.x - x[40]) <= 2 * (x[1] - x[0]), main
    assert main.size == pytest.approx(1.0, abs=0.1)
    assert main.confidence > 0.5
