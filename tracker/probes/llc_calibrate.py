"""Calibrating the LLC probe's SGLD: a grid over step size x n_beta on chosen checkpoints.

devinterp's guidance is to look at the loss traces: a good setting rises from the checkpoint's
loss and levels off within the draws (the chain has mixed), never falls below it (a negative
LLC: the step is too large or the checkpoint is not at a minimum) and never diverges. Among
such settings a larger step mixes faster. :func:`recommend` turns that into a rule: a cell is
*healthy* when its trace settled, no chain is negative and no draw is NaN; per n_beta the
largest healthy step is kept, and of those the one with the smallest spread over chains
(relative to its LLC) is recommended. :func:`plot_traces` draws the traces so the rule can be
checked by eye; the chosen setting then goes in the probe config.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from tracker.probes.llc import LLCConfig, LLCEstimate, LossFn, estimate_llc


@dataclass(frozen=True)
class CalibrationCell:
    """One grid cell: its settings and the estimate they gave."""

    lr: float
    n_beta: float
    estimate: LLCEstimate

    @property
    def healthy(self) -> bool:
        """Whether the trace settled with no negative chain and no NaN draw."""
        est = self.estimate
        return (est.settled and est.negative_chains == 0 and est.nan_draws == 0
                and bool(np.isfinite(est.llc)))


def calibrate(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    base: LLCConfig,
    lrs: list[float],
    n_betas: list[float],
    *,
    loss_fn: LossFn | None = None,
    device: str | None = None,
) -> list[CalibrationCell]:
    """Estimate the LLC at every (step size, n_beta) of the grid, other settings from ``base``.

    Args:
        model: The checkpoint's model.
        input_ids: (N, T) token windows.
        base: Settings shared by every cell (chains, draws, burn-in, batch size, ...).
        lrs: Step sizes.
        n_betas: Inverse temperatures (0 for ``b / ln b``).
        loss_fn: Per-token loss; None for next-token cross entropy.
        device: Device to sample on; None for the model's.

    Returns:
        One cell per (lr, n_beta), n_beta varying fastest.
    """
    return [
        CalibrationCell(lr=lr, n_beta=n_beta, estimate=estimate_llc(
            model, input_ids, replace(base, lr=lr, n_beta=n_beta), loss_fn=loss_fn,
            device=device))
        for lr in lrs for n_beta in n_betas
    ]


def recommend(cells: list[CalibrationCell]) -> CalibrationCell | None:
    """Pick a setting by the rule in the module docstring; None when no cell is healthy."""
    healthy = [c for c in cells if c.healthy]
    largest: dict[float, CalibrationCell] = {}
    for cell in healthy:
        if cell.n_beta not in largest or cell.lr > largest[cell.n_beta].lr:
            largest[cell.n_beta] = cell
    if not largest:
        return None
    return min(largest.values(),
               key=lambda c: c.estimate.llc_std / max(abs(c.estimate.llc), 1e-12))


def plot_traces(cells: list[CalibrationCell], path: Path) -> Path:
    """Draw each cell's per-chain loss traces (minus the checkpoint's loss) in a grid.

    Needs matplotlib (``pip install 'tracker[plot]'``).

    Args:
        cells: Output of :func:`calibrate`.
        path: Image file to write.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on the machines this runs on
    import matplotlib.pyplot as plt

    lrs = sorted({c.lr for c in cells})
    n_betas = sorted({c.n_beta for c in cells})
    fig, axes = plt.subplots(len(lrs), len(n_betas), squeeze=False,
                             figsize=(3.2 * len(n_betas), 2.4 * len(lrs)))
    for cell in cells:
        ax = axes[lrs.index(cell.lr)][n_betas.index(cell.n_beta)]
        est = cell.estimate
        ax.plot((est.loss_trace - est.init_loss).T, linewidth=0.7)
        ax.axhline(0.0, color="black", linewidth=0.5)
        mark = "" if cell.healthy else " (unhealthy)"
        ax.set_title(f"lr={cell.lr:g} n_beta={cell.n_beta:g}\nLLC {est.llc:.3g}{mark}",
                     fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
