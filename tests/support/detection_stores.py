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


#: Midpoint steps of the planted induction circuit's parts in :func:`circuit_order_store`.
CIRCUIT_PARTS = {"prev_token": 300, "k_composition": 1000, "induction": 3000, "copying": 10000}


def circuit_order_store(path: Path, series: str = "org/circuit", seed: int = 0) -> Path:
    """Write a store (2 layers x 2 heads) whose induction circuit forms part by part.

    L0H1 becomes a previous-token head, then the pair L0H1>L1H0 K-composes, then L1H0 gets the
    induction stripe, then its OV copies, each a rise centred at :data:`CIRCUIT_PARTS`. The
    other pairs sit at the random baseline (0 after subtraction, small noise), every other head
    stays flat.
    """
    from tracker.probes.composition import head_pairs, pair_label

    rng = np.random.default_rng(seed)
    steps = np.array(STEPS)
    n, mids = len(steps), CIRCUIT_PARTS
    prev = 0.05 + rng.normal(0, 0.01, (n, 2, 2))
    prev[:, 0, 1] += 0.8 * sigmoid(steps, mids["prev_token"])
    ind = 0.03 + rng.normal(0, 0.01, (n, 2, 2))
    ind[:, 1, 0] += 0.8 * sigmoid(steps, mids["induction"])
    eigen = 0.1 + rng.normal(0, 0.02, (n, 2, 2))
    eigen[:, 1, 0] += 0.8 * sigmoid(steps, mids["copying"])
    pairs = head_pairs(2, 2)
    k_comp = rng.normal(0, 0.002, (n, len(pairs)))
    k_comp[:, pairs.index((0, 1, 1, 0))] += 0.1 * sigmoid(steps, mids["k_composition"])
    for i, step in enumerate(STEPS):
        shard = StepShard(series, PER_STEP, step, step * PER_STEP, f"step{step}", f"h{step}")
        induction = ProbeResult("induction", 3, '{"threshold":0.4}', "0" * 16)
        for name, values in (("induction_score", ind), ("prev_token_score", prev)):
            induction.add(Metric(name=name, kind="head", higher_is_mechanism=True,
                                 threshold=0.4), values[i])
        copying = ProbeResult("copying", 2, "{}", "1" * 16)
        copying.add(Metric(name="copying_eigen", kind="head", higher_is_mechanism=True),
                    eigen[i])
        comp = ProbeResult("composition", 1, "{}", "2" * 16,
                           static={"pair_names": np.array([pair_label(p) for p in pairs],
                                                          dtype=object),
                                   "pairs": np.array(pairs, dtype=np.int64)})
        comp.add(Metric(name="k_comp", kind="vector", shape=(len(pairs),),
                        higher_is_mechanism=True), k_comp[i])
        for result in (induction, copying, comp):
            shard.results[(result.probe, result.key)] = result
        write_shard(path, shard)
    consolidate(path, {"kind": "planted"})
    return path
