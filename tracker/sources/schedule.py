"""Checkpoint schedules (Pythia's built in) and step-selection specs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tracker.errors import SourceError

PYTHIA_TOKENS_PER_STEP = 2_097_152
PYTHIA_FINAL_STEP = 143_000


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of a series.

    Attributes:
        step: Optimiser step at which the checkpoint was saved.
        revision: Revision name (hub branch, folder name) that holds it.
        tokens: Tokens seen by the model at this step.
    """

    step: int
    revision: str
    tokens: int


def pythia_steps(final_step: int = PYTHIA_FINAL_STEP, every: int = 1000) -> list[int]:
    """Return Pythia's checkpoint steps: 0, 1, 2, 4, ..., 512, then every ``every`` to the end.

    Args:
        final_step: Last step (143000 for Pythia).
        every: Spacing of the linear part.

    Returns:
        Sorted list of steps (154 for the defaults).
    """
    log_part = [0] + [2**k for k in range(10)]
    linear = list(range(every, final_step + 1, every))
    return sorted(set(log_part) | set(linear))


def pythia_like_steps(final_step: int, n_linear: int, n_log: int | None = None) -> list[int]:
    """Return a Pythia-shaped schedule for a short run: 0, powers of two, then evenly spaced.

    Args:
        final_step: Last step of the run.
        n_linear: Number of evenly spaced checkpoints in the linear part (ending at final_step).
        n_log: Number of powers of two (1, 2, 4, ...); by default all below the linear spacing.

    Returns:
        Sorted unique steps.
    """
    spacing = max(1, final_step // n_linear)
    linear = [spacing * (i + 1) for i in range(n_linear)]
    linear[-1] = final_step
    powers: list[int] = []
    k = 0
    while 2**k < spacing and (n_log is None or len(powers) < n_log):
        powers.append(2**k)
        k += 1
    return sorted(set([0, *powers, *linear]))


_RANGE = re.compile(r"^(-?\d*):(-?\d*)(?::(\d+))?$")


def select_steps(available: Sequence[int], spec: str | None) -> list[int]:
    """Select steps from those available according to a spec.

    Spec forms: ``all`` (or empty); a list ``0,512,1000``; a range ``A:B`` or ``A:B:K``
    (inclusive bounds on step values; K keeps every K-th selected checkpoint); ``every:K``
    (every K-th checkpoint); ``log:N`` (N checkpoints log-spaced in step, always keeping the
    first and last); ``first:N`` / ``last:N``.

    Args:
        available: Steps the series has.
        spec: Selection spec.

    Returns:
        Sorted selected steps, all of them among ``available``.

    Raises:
        SourceError: For a malformed spec or a listed step the series lacks.
    """
    steps = sorted(set(int(s) for s in available))
    if spec is None or spec.strip() in ("", "all"):
        return steps
    spec = spec.strip()
    head, _, arg = spec.partition(":")
    if head in ("every", "log", "first", "last"):
        try:
            n = int(arg)
        except ValueError:
            raise SourceError(f"--steps {spec!r}: expected an integer after '{head}:'") from None
        if n <= 0:
            raise SourceError(f"--steps {spec!r}: the count must be positive")
        if head == "every":
            return steps[::n]
        if head == "first":
            return steps[:n]
        if head == "last":
            return steps[-n:]
        return _log_subset(steps, n)
    match = _RANGE.match(spec)
    if match:
        lo = int(match.group(1)) if match.group(1) else steps[0]
        hi = int(match.group(2)) if match.group(2) else steps[-1]
        k = int(match.group(3) or 1)
        return [s for s in steps if lo <= s <= hi][::k]
    try:
        wanted = [int(tok) for tok in spec.split(",") if tok.strip()]
    except ValueError:
        raise SourceError(f"--steps {spec!r}: not a step list, range, every:K, log:N") from None
    missing = sorted(set(wanted) - set(steps))
    if missing:
        raise SourceError(f"--steps: step {missing[0]} is not in the series")
    return sorted(set(wanted))


def _log_subset(steps: list[int], n: int) -> list[int]:
    """Pick up to n steps spread evenly on log10(step + 1), keeping first and last."""
    if n >= len(steps):
        return steps
    x = np.log10(np.asarray(steps, dtype=float) + 1.0)
    targets = np.linspace(x[0], x[-1], n)
    chosen: set[int] = set()
    for t in targets:
        order = np.argsort(np.abs(x - t))
        for idx in order:  # nearest step not yet taken keeps the count at n where possible
            if steps[int(idx)] not in chosen:
                chosen.add(steps[int(idx)])
                break
    return sorted(chosen)
