"""The probe interface: a registered name, a version, a frozen config, and a run method.

Results are keyed by (series, step, probe name, probe version, config hash); changing a
probe's config or bumping its version makes the runner recompute exactly that probe.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tracker.probes.context import ProbeContext


@dataclass(frozen=True)
class ProbeConfig:
    """Base class of probe configs; subclasses are frozen dataclasses of JSON-able fields."""

    def to_json(self) -> str:
        """Canonical JSON (sorted keys) of the config."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(",", ":"))

    def replace(self, **changes: Any) -> ProbeConfig:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def config_hash(config: ProbeConfig) -> str:
    """Return a short stable hash of a config's canonical JSON (16 hex chars)."""
    return hashlib.sha256(config.to_json().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MetricSpec:
    """Declares one metric a probe writes.

    Attributes:
        name: Metric name (a dataset name in the store).
        kind: ``head`` for (layers, heads) arrays, ``layer`` for (layers,), ``scalar`` for (),
            ``vector`` for a fixed-length 1-d array.
        description: One line saying what the value means.
        higher_is_mechanism: Whether high values mean the mechanism is present (detectors use
            it to orient emergence), or None when the metric has no orientation.
        threshold: Value above which a head counts as having the mechanism (queries use it).
    """

    name: str
    kind: str
    description: str = ""
    higher_is_mechanism: bool | None = True
    threshold: float | None = None


class Probe(abc.ABC):
    """A measurement taken at every checkpoint.

    Subclasses set ``name``, ``version``, ``description``, ``Config`` and implement
    :meth:`metrics` and :meth:`run`; :meth:`declare` may announce forward passes in advance so
    probes sharing inputs share one pass.
    """

    name: ClassVar[str]
    version: ClassVar[int]
    description: ClassVar[str]
    Config: ClassVar[type[ProbeConfig]] = ProbeConfig

    def __init__(self, config: ProbeConfig | None = None, **overrides: Any) -> None:
        base = config if config is not None else self.Config()
        self.config = base.replace(**overrides) if overrides else base

    @property
    def config_hash(self) -> str:
        """Hash of this probe's config."""
        return config_hash(self.config)

    @property
    def key(self) -> str:
        """Variant key used in the store: ``v{version}-{config hash}``."""
        return f"v{self.version}-{self.config_hash}"

    @abc.abstractmethod
    def metrics(self, ctx: ProbeContext) -> list[MetricSpec]:
        """Declare the metrics :meth:`run` returns (may depend on the model's shape)."""

    def declare(self, ctx: ProbeContext) -> None:  # noqa: B027 - optional hook
        """Announce forward passes (``ctx.declare``) so they can be shared; optional."""

    @abc.abstractmethod
    def run(self, ctx: ProbeContext) -> Mapping[str, np.ndarray | float]:
        """Measure the checkpoint; return metric name -> value (numpy array or float)."""
