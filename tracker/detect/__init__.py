"""Change-point detectors: one file each, registered by name with a version and a frozen config."""

from tracker.detect.base import (
    ChangePoint,
    Detector,
    DetectorConfig,
    Onset,
    make_x_axis,
    robust_noise,
)
from tracker.detect.registry import (
    DEFAULT_DETECTOR,
    detector_class,
    detector_names,
    get_detector,
    register_detector,
)

__all__ = [
    "DEFAULT_DETECTOR",
    "ChangePoint",
    "Detector",
    "DetectorConfig",
    "Onset",
    "detector_class",
    "detector_names",
    "get_detector",
    "make_x_axis",
    "register_detector",
    "robust_noise",
]
