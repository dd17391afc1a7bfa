"""The report's dormant / active blocks, from a store with planted labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.report_stores import dormant_store, planted_store
from tracker.events.dormant import head_runs
from tracker.report import render_report
from tracker.report.dormant_section import (
    dormant_overview,
    dormant_section,
    last_checkpoint_row,
    runs_rows,
    strongest_parking,
)
from tracker.store import SeriesStore


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SeriesStore:
    return SeriesStore(dormant_store(tmp_path_factory.mktemp("dormant") / "d.h5"))


def test_table_compresses_labels_to_changes(store: SeriesStore) -> None:
    rows = runs_rows(head_runs(store))
    assert [row[0] for row in rows] == ["<code>L0H1</code>", "", "", "<code>L1H0</code>", "",
                                        "", "<code>L1H1</code>", "", ""]
    text = next(row for row in rows[:3] if row[1] == "text")[2]
    assert "active</span> 0–20" in text and "dormant</span> 40–640" in text
    random = next(row for row in rows[:3] if row[1] == "random")[2]
    assert "dormant" not in random and "0–640" in random
    block = dormant_section(store)
    assert "at least 0.8" in block and "at most 0.3" in block
    assert "id='organisms-dormant-toy-dormant'" in block


def test_across_series_row_reads_the_last_checkpoint(store: SeriesStore) -> None:
    # Last checkpoint: L0H1 dormant on text only, L1H1 everywhere; first dormant at step 40.
    assert last_checkpoint_row(store) == [
        "dormant-toy", "<code>L1H1</code>", "<code>L1H1</code>",
        "<code>L0H1</code> <code>L1H1</code>", "<code>L0H1</code>", "40"]
    assert "active-dormant" in dormant_overview([store])


def test_reports_without_the_probe_are_unchanged(tmp_path: Path) -> None:
    other = SeriesStore(planted_store(tmp_path / "p.h5"))
    assert dormant_section(other) == "" and dormant_overview([other]) == ""


def test_page_holds_both_blocks(store: SeriesStore) -> None:
    html = render_report([store.path], metrics=["dormant/active_dormant"])
    assert "Dormant and active heads at the last checkpoint" in html
    assert html.count("<h3>Dormant and active heads</h3>") == 1


def test_store_without_dormant_heads_says_where_attention_peaked(store: SeriesStore) -> None:
    # Ties go to the first domain (as stored) and the earliest checkpoint: the flicker.
    assert strongest_parking(store) == (
        "The largest first-token attention is 0.95 (<code>L1H0</code> on random at step 80, "
        "output ratio 0.05 there).")
