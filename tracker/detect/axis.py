"""One axis object: checkpoint steps to the detector's x axis and back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

XAxis = Literal["log_step", "tokens", "index"]
AXES: tuple[str, ...] = ("log_step", "tokens", "index")


@dataclass(frozen=True)
class Axis:
    """The x axis detectors run on, for one checkpoint schedule.

    Attributes:
        steps: Checkpoint steps (strictly increasing, >= 0 for ``log_step``).
        kind: ``log_step`` (log10(step + 1), the default), ``tokens`` or ``index``.
        tokens_per_step: Tokens per step (for ``tokens``; 1 when unknown).
    """

    steps: np.ndarray
    kind: str = "log_step"
    tokens_per_step: int = 1
    x: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        steps = np.asarray(self.steps, dtype=float)
        if self.kind not in AXES:
            raise ValueError(f"unknown x axis {self.kind!r} (known: {', '.join(AXES)})")
        if self.kind == "log_step" and np.any(steps < 0):
            raise ValueError("steps must be >= 0 for the log_step axis")
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "x", self.to_x(steps))

    @property
    def log_t(self) -> np.ndarray:
        """log10(step + 1) of each checkpoint (the power-law null's clock)."""
        return np.log10(np.maximum(self.steps, 0.0) + 1.0)

    def to_x(self, step: float | np.ndarray) -> np.ndarray:
        """Map (fractional) steps to the axis."""
        s = np.asarray(step, dtype=float)
        if self.kind == "log_step":
            return np.log10(s + 1.0)
        if self.kind == "tokens":
            return s * float(self.tokens_per_step)
        return np.interp(s, self.steps, np.arange(len(self.steps), dtype=float))

    def to_step(self, x: float | np.ndarray) -> np.ndarray:
        """Map axis locations back to (fractional) steps, clipped to the observed range."""
        v = np.asarray(x, dtype=float)
        if self.kind == "log_step":
            s = 10.0 ** v - 1.0
        elif self.kind == "tokens":
            s = v / float(max(self.tokens_per_step, 1))
        else:
            s = np.interp(v, np.arange(len(self.steps), dtype=float), self.steps)
        return np.clip(s, 0.0, float(self.steps[-1]) if len(self.steps) else 0.0)

    def step_at(self, x: float) -> float:
        """:meth:`to_step` of one location, as a float."""
        return float(self.to_step(x))


def axis_values(steps: Sequence[int] | np.ndarray, tokens: Sequence[int] | np.ndarray | None,
                kind: str) -> np.ndarray:
    """Build the axis of a schedule (``tokens``: tokens seen per checkpoint, for ``tokens``)."""
    if kind == "tokens":
        if tokens is None:
            raise ValueError("axis='tokens' needs the tokens of each checkpoint")
        t = np.asarray(tokens, dtype=float)
        if t.shape != np.asarray(steps).shape:
            raise ValueError(f"tokens has shape {t.shape} but steps has shape "
                             f"{np.asarray(steps).shape}")
        return t
    return Axis(np.asarray(steps, dtype=float), kind).x
