"""Registry of probes by name: a probe file registers its class with ``@register_probe``."""

from __future__ import annotations

from typing import Any

from tracker.probes.base import Probe
from tracker.registry import Registry

_PROBES: Registry[Probe[Any]] = Registry("probe", "tracker.probes")

#: Class decorator: register a probe under its ``name``.
register_probe = _PROBES.register
#: All registered probe names, sorted.
probe_names = _PROBES.names
#: The probe class registered under a name (UnknownNameError, listing the known ones, if none).
probe_class = _PROBES.get


def make_probes(names: list[str] | None = None, **configs: dict[str, Any]) -> list[Probe[Any]]:
    """Instantiate probes by name (every default-sweep probe when ``names`` is None).

    Args:
        names: Probe names.
        **configs: Per-probe config overrides, keyed by probe name.
    """
    chosen = names or [n for n in probe_names() if probe_class(n).in_default_sweep]
    return [probe_class(n)(**configs.get(n, {})) for n in chosen]
