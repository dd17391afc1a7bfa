"""The induction circuit's parts are timed and ordered on a store planted part by part."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.detection_stores import CIRCUIT_PARTS, STEPS, circuit_order_store
from tracker.events.induction_order import (
    PARTS,
    half_rise_step,
    induction_parts,
    order_table,
    order_text,
)
from tracker.store import SeriesStore


@pytest.fixture(scope="module")
def parts(tmp_path_factory):  # type: ignore[no-untyped-def]
    return induction_parts(SeriesStore(circuit_order_store(tmp_path_factory.mktemp("o") / "o.h5")))


def test_partner_is_found_by_k_composition_and_each_part_is_timed(parts) -> None:  # type: ignore[no-untyped-def]
    assert list(parts["part"]) == list(PARTS)
    assert set(parts["head"]) == {"L1H0"} and set(parts["partner"]) == {"L0H1"}
    units = dict(zip(parts["part"], parts["unit"], strict=True))
    assert units == {"prev_token": "L0H1", "k_composition": "L0H1>L1H0", "induction": "L1H0",
                     "copying": "L1H0"}
    for row in parts.itertuples():
        planted = np.log10(CIRCUIT_PARTS[row.part] + 1)
        assert np.log10(row.midpoint_step + 1) == pytest.approx(planted, abs=0.15), row.part
        assert row.character in ("abrupt", "gradual")
        # The half-rise step is a checkpoint: the one at or around the planted midpoint.
        mid = CIRCUIT_PARTS[row.part]
        around = (max(s for s in STEPS if s <= mid), min(s for s in STEPS if s > mid))
        assert around[0] <= row.half_step <= around[1], row.part


def test_order_table_reads_the_planted_order(parts) -> None:  # type: ignore[no-untyped-def]
    (row,) = order_table(parts).itertuples()
    assert row.order == "prev_token < k_composition < induction < copying"
    assert row.order_half == row.order
    assert row.k_comp_final == pytest.approx(0.1, abs=0.01)


def test_order_text_ties_and_missing_parts() -> None:
    times = {"prev_token": 100.0, "k_composition": 105.0, "induction": 400.0,
             "copying": float("nan")}
    assert order_text(times, 0.05) == "prev_token = k_composition < induction (no event: copying)"


def test_half_rise_step_needs_a_rise() -> None:
    steps = np.arange(10.0)
    y = np.array([0.0, 0.0, 0.0, 0.2, 0.5, 0.9, 1.0, 1.0, 1.0, 1.0])
    assert half_rise_step(y, steps) == 4.0
    assert np.isnan(half_rise_step(-y, steps))
    assert np.isnan(half_rise_step(y[:4], steps[:4]))
