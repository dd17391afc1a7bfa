"""Registry of change-point detectors by name."""

from __future__ import annotations

from typing import Any

from tracker.detect.base import Detector
from tracker.registry import Registry

#: Detector that ``tracker detect`` runs when none is named.
DEFAULT_DETECTOR = "pelt"

_DETECTORS: Registry[Detector[Any]] = Registry("detector", "tracker.detect")


#: Class decorator: register a detector under its ``name``.
register_detector = _DETECTORS.register
#: All registered detector names, sorted.
detector_names = _DETECTORS.names
#: The detector class registered under a name (UnknownNameError, listing the known ones).
detector_class = _DETECTORS.get


def get_detector(name: str | None = None, **overrides: Any) -> Detector[Any]:
    """Instantiate a detector by name with its default config, some fields overridden.

    Args:
        name: Registered name; :data:`DEFAULT_DETECTOR` when None.
        **overrides: Config fields to change.

    Returns:
        The detector.

    Raises:
        UnknownNameError: If no detector has that name.
        TypeError: If an override names no field of the detector's config.
    """
    return detector_class(DEFAULT_DETECTOR if name is None else name)(**overrides)
