"""The probe interface: a registered name, a version, a frozen config, and a run method.

Results are keyed by (series, step, probe name, probe version, config hash); changing a
probe's config or bumping its version makes the runner recompute exactly that probe.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from tracker.identity import Versioned, VersionedConfig
from tracker.metric import Metric
from tracker.probes.context import ProbeContext


@dataclass(frozen=True)
class ProbeConfig(VersionedConfig):
    """Base class of probe configs; subclasses are frozen dataclasses of JSON-able fields."""


ConfigT = TypeVar("ConfigT", bound=ProbeConfig)

#: What :meth:`Probe.run` returns: metric name -> value (numpy array or float).
ProbeValues = Mapping[str, "np.ndarray | float"]


class Probe(Versioned[ConfigT], abc.ABC):
    """A measurement taken at every checkpoint.

    Subclasses set ``name``, ``version``, ``description``, ``Config`` and implement
    :meth:`metrics` and :meth:`run`; :meth:`declare` may announce forward passes in advance so
    probes sharing inputs share one pass. ``self.config`` is typed by the subclass's parameter
    (``class InductionProbe(Probe[InductionConfig])``).
    """

    Config = ProbeConfig
    #: Whether a sweep that names no probes runs this one; an expensive probe (the LLC's
    #: sampling costs seconds per checkpoint, the rest together well under one) is run by name.
    in_default_sweep: bool = True

    @abc.abstractmethod
    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Declare the metrics :meth:`run` returns (may depend on the model's shape)."""

    def declare(self, ctx: ProbeContext) -> None:  # noqa: B027 - optional hook
        """Announce forward passes (``ctx.declare``) so they can be shared; optional."""

    @abc.abstractmethod
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Measure the checkpoint; return metric name -> value (numpy array or float)."""

    def static(self, ctx: ProbeContext) -> dict[str, np.ndarray]:
        """Return constants of the series (the same at every step), stored once per variant.

        Most probes have none; a circuit probe returns its graph's edge names, so per-step
        edge vectors can be read without rebuilding the graph.
        """
        return {}

    def with_text(self, path: Path) -> Probe[ConfigT]:
        """Return this probe reading the text dataset at ``path``; probes without text ignore it.

        A probe that reads running text overrides this (and :meth:`has_data`), so callers such
        as the CLI hand over a dataset without knowing which probe uses it or how.
        """
        return self

    def has_data(self) -> bool:
        """Whether the data this probe reads can be found (always, for most probes)."""
        return True

    def lacking_note(self) -> str:
        """Say in a few words why :meth:`has_data` is False (what a skipped sweep prints)."""
        return "no --text-dataset"

    def missing(self, ctx: ProbeContext, **known: np.ndarray | float) -> dict[str, np.ndarray]:
        """Return the result of a checkpoint with nothing to measure: every metric NaN.

        Args:
            ctx: The checkpoint's context (for the model's shape).
            **known: Metrics that do have a value (such as a count of kept prompts, 0).
        """
        shape = ctx.adapter.n_layers, ctx.adapter.n_heads
        out = {m.name: np.full(m.value_shape(*shape), np.nan) for m in self.metrics(ctx)}
        out.update({name: np.asarray(value, dtype=np.float64) for name, value in known.items()})
        return out
