"""Registry of probes by name."""

from __future__ import annotations

from typing import Any, TypeVar

from tracker.probes.base import Probe
from tracker.registry import Registry

P = TypeVar("P", bound=type[Probe[Any]])
_PROBES: Registry[Probe[Any]] = Registry("probe", "tracker.probes")


def register_probe(cls: P) -> P:
    """Class decorator: register a probe under its ``name``."""
    _PROBES.register(cls)
    return cls


def probe_names() -> list[str]:
    """Return all registered probe names, sorted."""
    return _PROBES.names()


def probe_class(name: str) -> type[Probe[Any]]:
    """Return the probe class registered under ``name``.

    Raises:
        UnknownNameError: If no probe has that name.
    """
    return _PROBES.get(name)


def make_probes(names: list[str] | None = None, **configs: dict[str, Any]) -> list[Probe[Any]]:
    """Instantiate probes by name (all registered probes when ``names`` is None).

    Args:
        names: Probe names.
        **configs: Per-probe config overrides, keyed by probe name.
    """
    chosen = probe_names() if not names else names
    return [probe_class(n)(**configs.get(n, {})) for n in chosen]
