"""Role swaps over training: a role passing from one head to another between checkpoints.

Tigges et al. (2024) find that the heads holding an IOI role change over training while the
circuit's function stays. Given per-checkpoint labels of one role (from
:mod:`tracker.circuits.roles` or any other head test), :func:`role_swaps` reports when the
role moves, ignoring one-checkpoint flickers of a label near its threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tracker.labels import HeadId


@dataclass(frozen=True)
class SwapConfig:
    """When a change of role holders counts as a swap.

    Attributes:
        persistence: Checkpoints a head must keep its state on each side of a change (held
            before and lost after, or the reverse) for the change to count; 1 takes every
            change, so one-checkpoint flickers too.
        window: Checkpoints a loss and a gain may lie apart and still form one swap.
    """

    persistence: int = 2
    window: int = 1

    def __post_init__(self) -> None:
        if self.persistence < 1 or self.window < 0:
            raise ValueError(f"persistence must be >= 1 and window >= 0: {self}")


@dataclass(frozen=True)
class RoleSwap:
    """A role passing from some heads to others.

    Attributes:
        step: Training step of the checkpoint completing the swap (the later change).
        role: Role name.
        from_heads: Heads that lost the role (labels such as ``L1H3``).
        to_heads: Heads that gained it.
    """

    step: int
    role: str
    from_heads: tuple[str, ...]
    to_heads: tuple[str, ...]


def stable_changes(held: np.ndarray, k: int) -> list[tuple[int, int, bool]]:
    """Return persistent changes of per-head booleans over checkpoints.

    A unit changes at checkpoint ``i`` when it is steady over the ``k`` checkpoints before
    ``i`` and over ``i`` and the ``k - 1`` after, with different values on the two sides, so
    one-checkpoint flickers are ignored and changes within ``k`` of either end are not seen.

    Args:
        held: (S, ...) booleans per checkpoint (units flattened layer-major).
        k: Persistence, in checkpoints.

    Returns:
        ``(checkpoint index, flat unit, gained)`` per change, in checkpoint order.
    """
    out = []
    flat = held.reshape(held.shape[0], -1)
    for i in range(k, flat.shape[0] - k + 1):
        before, after = flat[i - k:i], flat[i:i + k]
        steady = (before == before[-1]).all(0) & (after == after[0]).all(0)
        for unit in np.nonzero(steady & (before[-1] != after[0]))[0]:
            out.append((i, int(unit), bool(after[0, unit])))
    return out


def role_swaps(
    steps: Sequence[int] | np.ndarray,
    held: np.ndarray,
    role: str,
    config: SwapConfig = SwapConfig(),
) -> list[RoleSwap]:
    """Find checkpoints where a role passes from one head to another.

    A head *loses* the role at checkpoint ``i`` when it held it at the ``persistence``
    checkpoints before ``i`` and lacks it at ``i`` and the ``persistence - 1`` after (a gain
    is the reverse), so a change within ``persistence`` checkpoints of either end of the
    series cannot be confirmed and is not reported. Changes whose checkpoints lie at most
    ``window`` apart are chained into one group, and a head both losing and gaining in a
    group counts for neither (A -> B -> C nets to A -> C, A -> B -> A to nothing); a group
    left with a loss and a gain is a swap, dated at its last change. A role that appears or
    vanishes (gains or losses alone) is no swap, and neither is a head that drops out for
    fewer than ``persistence`` checkpoints while another flickers on.

    Args:
        steps: (S,) training steps, in order.
        held: (S, n_layers, n_heads) booleans: the head holds the role at that checkpoint.
        role: Role name copied into the events.
        config: Persistence and window.

    Returns:
        Swaps in step order.
    """
    held = np.asarray(held, dtype=bool)
    steps = np.asarray(steps)
    if held.ndim != 3 or held.shape[0] != len(steps):
        raise ValueError(f"held must be (steps, layers, heads) over {len(steps)} steps, got "
                         f"{held.shape}")
    n_heads = held.shape[2]
    changes = sorted(stable_changes(held, config.persistence))
    groups: list[list[tuple[int, int, bool]]] = []
    for change in changes:
        if groups and change[0] - groups[-1][-1][0] <= config.window:
            groups[-1].append(change)
        else:
            groups.append([change])
    out = []
    for group in groups:
        lost = {u for _, u, gained in group if not gained}
        won = {u for _, u, gained in group if gained}
        lost, won = lost - won, won - lost
        if lost and won:
            out.append(RoleSwap(
                int(steps[group[-1][0]]), role,
                tuple(HeadId.from_flat(u, n_heads).label for u in sorted(lost)),
                tuple(HeadId.from_flat(u, n_heads).label for u in sorted(won))))
    return out
