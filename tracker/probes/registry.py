"""Registry of probes by name."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, TypeVar

from tracker.errors import UnknownNameError
from tracker.probes.base import Probe

_PROBES: dict[str, type[Probe]] = {}
P = TypeVar("P", bound=type[Probe])
_LOADED = False


def register_probe(cls: P) -> P:
    """Class decorator: register a probe under its ``name``."""
    if cls.name in _PROBES and _PROBES[cls.name] is not cls:
        raise ValueError(f"probe name {cls.name!r} registered twice")
    _PROBES[cls.name] = cls
    return cls


def _load_builtin() -> None:
    """Import every module of ``tracker.probes`` once so their probes register themselves."""
    global _LOADED
    if _LOADED:
        return
    import tracker.probes as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in ("base", "context", "registry", "inputs"):
            importlib.import_module(f"tracker.probes.{info.name}")
    _LOADED = True


def probe_names() -> list[str]:
    """Return all registered probe names, sorted."""
    _load_builtin()
    return sorted(_PROBES)


def probe_class(name: str) -> type[Probe]:
    """Return the probe class registered under ``name``.

    Raises:
        UnknownNameError: If no probe has that name.
    """
    _load_builtin()
    if name not in _PROBES:
        raise UnknownNameError(f"unknown probe {name!r} (known: {', '.join(sorted(_PROBES))})")
    return _PROBES[name]


def make_probes(names: list[str] | None = None, **configs: dict[str, Any]) -> list[Probe]:
    """Instantiate probes by name (all registered probes when ``names`` is None).

    Args:
        names: Probe names.
        **configs: Per-probe config overrides, keyed by probe name.
    """
    chosen = probe_names() if not names else names
    return [probe_class(n)(**configs.get(n, {})) for n in chosen]
