"""LLC calibration grid: too small a step never settles, too large diverges, the middle wins."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.probes.test_llc import _fitted_regression
from tracker.probes.llc import LLCConfig
from tracker.probes.llc_calibrate import calibrate, plot_traces, recommend


def test_grid_flags_unsettled_and_diverged_cells_and_recommends_the_middle(
    tmp_path: Path,
) -> None:
    """Linear regression with d = 8 (LLC 4). At lr 3e-5 the chains are still climbing after
    the draws (unsettled, LLC far below 4); at lr 0.5 the step exceeds the stability limit
    ``4 / (n_beta * largest curvature)`` and every draw is NaN; lr 2e-3 is healthy and
    recommended, near d/2."""
    pytest.importorskip("devinterp")
    n, d_in = 512, 7
    model, x, y = _fitted_regression(n, d_in)

    def loss_fn(m: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
        idx = ids[:, 0]
        return 0.5 * (m(x[idx])[:, 0] - y[idx])[:, None] ** 2

    base = LLCConfig(localization=0.0, num_chains=2, num_draws=300, num_burnin_steps=100,
                     batch_size=64, settle_tolerance=0.2)
    ids = torch.arange(n)[:, None].repeat(1, 2)
    cells = calibrate(model, ids, base, [3e-5, 2e-3, 0.5], [50.0], loss_fn=loss_fn,
                      device="cpu")
    assert [(c.lr, c.n_beta) for c in cells] == [(3e-5, 50.0), (2e-3, 50.0), (0.5, 50.0)]
    small, middle, large = cells
    assert not small.healthy and not small.estimate.settled and small.estimate.llc < 2.0
    assert large.estimate.nan_draws == 2 * 300 and not large.healthy
    assert middle.healthy and middle.estimate.llc == pytest.approx(4.0, rel=0.25)
    assert recommend(cells) is middle
    assert recommend([small, large]) is None
    pytest.importorskip("matplotlib")
    image = plot_traces(cells, tmp_path / "traces.png")
    assert image.stat().st_size > 1000
