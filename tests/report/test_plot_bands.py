"""Curve figures shade value ± standard error where the store holds one, and only there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.collections import PolyCollection

from tracker.report import plots
from tracker.store import Metric, ProbeResult, SeriesStore, StepShard, consolidate, write_shard

STEPS = [0, 1, 10, 100, 1000]
SERIES = "EleutherAI/pythia-70m"


def _store(path: Path, errors: bool) -> SeriesStore:
    """A 2x2-head metric whose best head moves from (0, 0) to (1, 1); SE 0.01*(1+head)."""
    head = Metric(name="score", kind="head", description="planted", threshold=0.5)
    scalar = Metric(name="acc", kind="scalar", description="planted")
    for step in STEPS:
        shard = StepShard(SERIES, 1000, step, step * 1000, f"step{step}", f"{step:016x}")
        result = ProbeResult("toy", 1, "{}", "0123456789abcdef")
        values = np.array([[0.5, 0.1], [0.2, 0.1]], np.float32)
        if step >= 100:
            values[1, 1] = 0.9
        result.add(head, values)
        result.add(scalar, np.float32(step / 1000))
        if errors:
            result.add(head.standard_error(), np.array([[0.01, 0.02], [0.03, 0.04]], np.float32))
            result.add(scalar.standard_error(), np.float32(0.05))
        shard.results[("toy", result.key)] = result
        write_shard(path, shard)
    consolidate(path, {"kind": "hub", "series_id": SERIES, "cache_dir": "/none"})
    return SeriesStore(path)


def _bands(fig) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    return [c.get_paths()[0].vertices for c in fig.axes[0].collections
            if isinstance(c, PolyCollection)]


def _info(store: SeriesStore, name: str) -> Metric:
    return next(i for i in store.metric_infos() if i.name == name)


def test_band_follows_the_drawn_head(tmp_path: Path) -> None:
    store = _store(tmp_path / "se.h5", errors=True)
    (band,) = _bands(plots.curves_figure([store], [_info(store, "score")]))
    live = [s * 1000 for s in STEPS[1:]]
    best = np.array([0.5, 0.5, 0.9, 0.9])
    se = np.array([0.01, 0.01, 0.04, 0.04])  # head (0, 0), then head (1, 1)
    for x, lo, hi in zip(live, best - se, best + se, strict=True):
        ys = band[np.isclose(band[:, 0], x), 1]
        assert np.isclose(ys.min(), lo, atol=1e-6) and np.isclose(ys.max(), hi, atol=1e-6)
    np.testing.assert_allclose(plots.best_unit_errors(
        store.metric("toy", "score"), store.standard_error("toy", "score"), True)[1:], se,
        atol=1e-7)
    (scalar_band,) = _bands(plots.curves_figure([store], [_info(store, "acc")]))
    assert np.isclose(np.ptp(scalar_band[np.isclose(scalar_band[:, 0], 1e6), 1]), 0.1)


def test_no_band_without_errors(tmp_path: Path) -> None:
    store = _store(tmp_path / "plain.h5", errors=False)
    assert store.standard_error("toy", "score") is None
    for name in ("score", "acc"):
        assert _bands(plots.curves_figure([store], [_info(store, name)])) == []
