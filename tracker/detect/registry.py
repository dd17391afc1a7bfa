"""Registry of change-point detectors by name."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, TypeVar

from tracker.detect.base import Detector
from tracker.errors import UnknownNameError

_DETECTORS: dict[str, type[Detector]] = {}
D = TypeVar("D", bound=type[Detector])
_LOADED = False

#: Detector that ``tracker detect`` runs when none is named. PELT is exact for its cost, locates
#: the start of a rise on the log-step axis (its first line break) within one checkpoint on
#: synthetic emergence curves, and meets the TCPD development-split target with defaults
#: (F1 0.84, cover 0.79; binseg and BOCPD score close to it but BOCPD can miss broad rises
#: and binseg's greedy splits land a few points off).
DEFAULT_DETECTOR = "pelt"

# Modules of tracker.detect that hold no detector.
_NOT_DETECTORS = frozenset({"base", "registry", "scoring"})


def register_detector(cls: D) -> D:
    """Class decorator: register a detector under its ``name``.

    Raises:
        ValueError: If another class already holds the name.
    """
    if cls.name in _DETECTORS and _DETECTORS[cls.name] is not cls:
        raise ValueError(f"detector name {cls.name!r} registered twice")
    _DETECTORS[cls.name] = cls
    return cls


def _load_builtin() -> None:
    """Import every detector module of ``tracker.detect`` once so they register themselves."""
    global _LOADED
    if _LOADED:
        return
    import tracker.detect as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in _NOT_DETECTORS and not info.name.startswith("_"):
            importlib.import_module(f"tracker.detect.{info.name}")
    _LOADED = True


def detector_names() -> list[str]:
    """Return all registered detector names, sorted."""
    _load_builtin()
    return sorted(_DETECTORS)


def detector_class(name: str) -> type[Detector]:
    """Return the detector class registered under ``name``.

    Raises:
        UnknownNameError: If no detector has that name.
    """
    _load_builtin()
    if name not in _DETECTORS:
        known = ", ".join(sorted(_DETECTORS))
        raise UnknownNameError(f"unknown detector {name!r} (known: {known})")
    return _DETECTORS[name]


def get_detector(name: str | None = None, **overrides: Any) -> Detector:
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
