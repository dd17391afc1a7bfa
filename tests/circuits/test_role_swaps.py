"""Role swaps on made-up label series: handovers, flickers, appearances, windows."""

import numpy as np
import pytest

from tracker.circuits.role_swaps import RoleSwap, SwapConfig, role_swaps

STEPS = np.arange(10) * 100


def _series(**heads: list[int]) -> np.ndarray:
    """(10, 2, 2) labels: head label -> checkpoint indices where it holds the role."""
    held = np.zeros((10, 2, 2), dtype=bool)
    for label, where in heads.items():
        layer, head = int(label[1]), int(label[3])
        held[where, layer, head] = True
    return held


def test_a_clean_handover_is_one_swap_at_its_step() -> None:
    held = _series(L1H0=list(range(5)), L1H1=list(range(5, 10)))
    assert role_swaps(STEPS, held, "name_mover") == [
        RoleSwap(500, "name_mover", ("L1H0",), ("L1H1",))]


def test_flickers_are_not_swaps() -> None:
    """L1H0 holds throughout but drops out once; L0H1 and L1H1 flicker on for one checkpoint."""
    held = _series(L1H0=[0, 1, 2, 3, 5, 6, 7, 8, 9], L1H1=[4], L0H1=[7])
    assert role_swaps(STEPS, held, "name_mover") == []
    # Without the persistence rule (and a window that nets A -> B -> A out) it is two swaps.
    assert role_swaps(STEPS, held, "name_mover", SwapConfig(persistence=1, window=0)) == [
        RoleSwap(400, "name_mover", ("L1H0",), ("L1H1",)),
        RoleSwap(500, "name_mover", ("L1H1",), ("L1H0",))]


def test_a_role_that_appears_or_vanishes_is_not_a_swap() -> None:
    assert role_swaps(STEPS, _series(L1H1=list(range(4, 10))), "r") == []
    assert role_swaps(STEPS, _series(L0H0=list(range(0, 6))), "r") == []


def test_a_handover_with_a_gap_needs_the_window() -> None:
    """L0H0 loses the role at checkpoint 4, L1H1 gains it at 6."""
    held = _series(L0H0=[0, 1, 2, 3], L1H1=[6, 7, 8, 9])
    assert role_swaps(STEPS, held, "r", SwapConfig(window=1)) == []
    assert role_swaps(STEPS, held, "r", SwapConfig(window=2)) == [
        RoleSwap(600, "r", ("L0H0",), ("L1H1",))]


def test_a_change_too_close_to_the_end_is_not_confirmed() -> None:
    held = _series(L1H0=list(range(9)), L1H1=[9])
    assert role_swaps(STEPS, held, "r") == []
    with pytest.raises(ValueError, match="steps"):
        role_swaps(STEPS[:-1], held, "r")

