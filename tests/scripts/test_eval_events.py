"""scripts/eval_events.py end to end: stores written, ``tracker detect``'s code run on them."""

from __future__ import annotations

import pytest

from tests.support.scripts import load_script
from tracker.events import read_events


@pytest.fixture(scope="module")
def bench():
    return load_script("eval_events")


def _check(figures: dict[str, float]) -> None:
    for name in ("flat", "power_law_loss", "saturation", "flicker", "outlier"):
        assert figures[f"null_{name}"] <= 0.05, name
    assert figures["null_phase"] == 0
    assert figures["recall_rise"] >= 0.9
    assert figures["recall_loss_drop"] >= 0.9


def test_benchmark_on_a_few_stores_meets_the_targets(bench, tmp_path) -> None:
    lines: list[str] = []
    figures = bench.run(2, 11, lines.append, root=tmp_path)
    _check(figures)
    assert lines[-3].startswith("recall rise")
    # The events were written into the stores, as tracker detect writes them.
    planted = read_events(tmp_path / "planted0.h5")
    assert (planted["kind"] == "emergence").any()
    assert not read_events(tmp_path / "null0.h5")["kind"].isin(["emergence", "fade"]).any()


@pytest.mark.slow
def test_benchmark_meets_the_targets(bench) -> None:
    _check(bench.run(10, 5, lambda _: None))
