"""Registry of change-point detectors by name."""

from __future__ import annotations

from typing import Any, TypeVar

from tracker.detect.base import Detector
from tracker.registry import Registry

D = TypeVar("D", bound=type[Detector[Any]])

#: Detector that ``tracker detect`` runs when none is named.
DEFAULT_DETECTOR = "pelt"

_DETECTORS: Registry[Detector[Any]] = Registry("detector", "tracker.detect")


def register_detector(cls: D) -> D:
    """Class decorator: register a detector under its ``name``.

    Raises:
        ValueError: If another class already holds the name.
    """
    _DETECTORS.register(cls)
    return cls


def detector_names() -> list[str]:
    """Return all registered detector names, sorted."""
    return _DETECTORS.names()


def detector_class(name: str) -> type[Detector[Any]]:
    """Return the detector class registered under ``name``.

    Raises:
        UnknownNameError: If no detector has that name.
    """
    return _DETECTORS.get(name)


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
