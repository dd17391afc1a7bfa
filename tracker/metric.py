"""What a stored metric is: one record, declared by probes and read back from the store.

A probe declares each metric it writes as a :class:`Metric`; the store writes the record as
HDF5 attributes beside the values and reads the same record back (with the probe, variant key
and per-step shape filled in), and the report, W&B and queries take it from there. It lives at
the bottom of the package so probes can declare with it without importing the store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

#: ``head``: (layers, heads) per step; ``layer``: (layers,); ``scalar``: (); ``vector``: (n,).
MetricKind = Literal["head", "layer", "scalar", "vector"]
METRIC_KINDS: tuple[str, ...] = get_args(MetricKind)


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One metric: its name, kind and meaning; where it is stored once it is.

    Attributes:
        name: Metric name (a dataset name in the store).
        kind: Shape class of a value (see :data:`MetricKind`).
        description: One line saying what the value means.
        higher_is_mechanism: Whether high values mean the mechanism is present (detectors use
            it to orient emergence), or None when the metric has no orientation.
        threshold: Value past which a head counts as having the mechanism (queries use it).
        resolution: Smallest step the value can move by, for quantized metrics (``1/n`` for a
            fraction over ``n`` items); noise estimates never fall below it. None if continuous.
        chance: The value a model with no mechanism is expected to score (``1/L`` for a top-1
            pick among ``L`` candidates), or None where there is none.
        error_of: For a standard-error record (:meth:`standard_error`), the metric it belongs
            to; '' for ordinary metrics.
        probe: Probe that wrote it ('' while only declared).
        key: Variant key of that probe (``v{version}-{hash}``; '' while only declared).
        shape: Shape of one step's value (() while only declared).
    """

    name: str
    kind: MetricKind
    description: str = ""
    higher_is_mechanism: bool | None = True
    threshold: float | None = None
    resolution: float | None = None
    chance: float | None = None
    error_of: str = ""
    probe: str = ""
    key: str = ""
    shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in METRIC_KINDS:
            raise ValueError(f"metric {self.name!r}: kind {self.kind!r} is not one of "
                             f"{', '.join(METRIC_KINDS)}")

    @property
    def lower_is_mechanism(self) -> bool:
        """Whether low values mean the mechanism (False when high does or there is no side)."""
        return self.higher_is_mechanism is False

    def stored(self, probe: str, key: str, shape: tuple[int, ...]) -> Metric:
        """Return this record as stored under ``probe``/``key``, ``shape`` per step."""
        return dataclasses.replace(self, probe=probe, key=key, shape=tuple(shape))

    def attrs(self) -> dict[str, Any]:
        """Return the record as HDF5 attributes (orientation as '', 'true' or 'false')."""
        orient = self.higher_is_mechanism
        return {
            "kind": self.kind,
            "description": self.description,
            "higher_is_mechanism": "" if orient is None else ("true" if orient else "false"),
            "threshold": _float_or_nan(self.threshold),
            "resolution": _float_or_nan(self.resolution),
            "chance": _float_or_nan(self.chance),
            "error_of": self.error_of,
        }

    @classmethod
    def from_attrs(cls, name: str, attrs: Mapping[str, Any], **where: Any) -> Metric:
        """Read a record written by :meth:`attrs`; ``where`` sets probe, key and shape."""
        orient = str(attrs.get("higher_is_mechanism", ""))
        return cls(
            name=name, kind=str(attrs["kind"]),  # type: ignore[arg-type]  # checked in post-init
            description=str(attrs.get("description", "")),
            higher_is_mechanism=None if orient == "" else orient == "true",
            threshold=_optional(attrs.get("threshold")),
            resolution=_optional(attrs.get("resolution")),
            chance=_optional(attrs.get("chance")),
            error_of=str(attrs.get("error_of", "")), **where,
        )

    def standard_error(self) -> Metric:
        """Return the record of this metric's standard error, stored beside it as ``{name}_se``.

        Same kind and shape; no orientation, threshold or chance level of its own.
        """
        return Metric(name=f"{self.name}_se", kind=self.kind,
                      description=f"standard error of {self.name}", higher_is_mechanism=None,
                      error_of=self.name, probe=self.probe, key=self.key, shape=self.shape)

    def value_shape(self, n_layers: int, n_heads: int) -> tuple[int, ...]:
        """Shape of one step's value on a model of this size (a vector's is its declared shape).

        Raises:
            ValueError: For a vector metric declared without its shape.
        """
        if self.kind == "vector":
            if len(self.shape) != 1:
                raise ValueError(f"vector metric {self.name!r} must declare shape=(length,)")
            return self.shape
        return {"head": (n_layers, n_heads), "layer": (n_layers,), "scalar": ()}[self.kind]


def _float_or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _optional(value: Any) -> float | None:
    """Read an optional float stored as NaN (absent from files written before the field)."""
    if value is None:
        return None
    number = float(value)
    return None if np.isnan(number) else number
