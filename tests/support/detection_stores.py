"""Stores with planted metric curves on a Pythia-like grid, for detector-level tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tracker.sources import pythia_steps
from tracker.store import Metric, ProbeResult, StepShard, consolidate, write_shard

STEPS = [s for s in pythia_steps() if s <= 40000]  # 51 checkpoints: log part, then linear
PER_STEP = 1000


def sigmoid(steps: np.ndarray, mid_step: float, width_decades: float = 0.15) -> np.ndarray:
    """A rise on log10(step + 1) centred at ``mid_step``."""
    x = np.log10(np.asarray(steps, dtype=float) + 1)
    return 1.0 / (1.0 + np.exp(-(x - np.log10(mid_step + 1)) / width_decades))


def planted_store(path: Path, series: str, rise_step: float, seed: int = 0,
                  handover: bool = True) -> Path:
    """Write a store whose induction head L1H2 rises at ``rise_step``.

    Also: L0H1 rises at rise_step/4 and fades at 4 x rise_step while L1H3 takes over (a
    handover); a scalar ``mean_loss`` drops at ``rise_step``; every other head stays flat.
    """
    rng = np.random.default_rng(seed)
    steps = np.array(STEPS)
    n = len(steps)
    scores = 0.03 + rng.normal(0, 0.01, (n, 2, 4))
    scores[:, 1, 2] += 0.8 * sigmoid(steps, rise_step)
    if handover:
        scores[:, 0, 1] += 0.7 * sigmoid(steps, rise_step / 4) * (1 - sigmoid(steps, 4 * rise_step))
        scores[:, 1, 3] += 0.7 * sigmoid(steps, 4 * rise_step)
    loss = 4.0 - 1.5 * sigmoid(steps, rise_step) + rng.normal(0, 0.01, n)
    for i, step in enumerate(STEPS):
        shard = StepShard(series, PER_STEP, step, step * PER_STEP, f"step{step}", f"h{step}")
        ind = ProbeResult("induction", 1, '{"threshold":0.4}', "0" * 16)
        ind.add(Metric(name="induction_score", kind="head", description="induction",
                       higher_is_mechanism=True, threshold=0.4),
                scores[i].astype(np.float32))
        shard.results[("induction", ind.key)] = ind
        icl = ProbeResult("icl", 1, "{}", "1" * 16)
        icl.add(Metric(name="mean_loss", kind="scalar", description="loss",
                       higher_is_mechanism=False),
                np.float32(loss[i]))
        shard.results[("icl", icl.key)] = icl
        write_shard(path, shard)
    consolidate(path, {"kind": "planted"})
    return path
