"""Identity of anything whose results are stored: a registered name, a version, a frozen config.

Probes and detectors both derive from :class:`Versioned`. Their stored results are keyed by
``v{version}-{config hash}`` (:func:`variant_key`), so changing a config field or bumping the
version makes exactly that variant recompute, and nothing else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

C = TypeVar("C", bound="VersionedConfig")


@dataclass(frozen=True)
class VersionedConfig:
    """Base class of configs: subclasses are frozen dataclasses of JSON-able fields."""

    def to_json(self) -> str:
        """Return the canonical JSON (sorted keys, no spaces) of the config."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(",", ":"))

    def config_hash(self) -> str:
        """Return a short stable hash (16 hex chars) of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def replace(self: C, **changes: Any) -> C:
        """Return a copy with some fields changed.

        Raises:
            TypeError: If a field name is not part of the config.
        """
        return dataclasses.replace(self, **changes)


def variant_key(version: int, config_hash: str) -> str:
    """Key of one stored variant: ``v{version}-{config hash}``."""
    return f"v{int(version)}-{config_hash}"


class Versioned(Generic[C]):
    """A registered, versioned, configured component (a probe, a detector).

    Subclasses set ``name``, ``version``, ``description`` and ``Config`` (the config class,
    which must build with no arguments); ``self.config`` is typed by the subclass's parameter,
    e.g. ``class InductionProbe(Probe[InductionConfig])``.

    Args:
        config: A config instance; the class default when None.
        **overrides: Config fields to change.

    Raises:
        TypeError: If an override names no field of the config.
    """

    name: ClassVar[str]
    version: ClassVar[int]
    description: ClassVar[str] = ""
    # A ClassVar cannot hold a type variable, so the config class is declared loosely here and
    # ``self.config`` carries the precise type.
    Config: ClassVar[type[Any]] = VersionedConfig

    def __init__(self, config: C | None = None, **overrides: Any) -> None:
        base: C = config if config is not None else self.Config()
        self.config: C = base.replace(**overrides) if overrides else base

    @property
    def config_hash(self) -> str:
        """Hash of this instance's config."""
        return self.config.config_hash()

    @property
    def key(self) -> str:
        """Variant key of this instance's stored results: ``v{version}-{config hash}``."""
        return variant_key(self.version, self.config_hash)
