"""Series stores with planted curves, and fake events, for report and W&B tests.

Shards are written directly (no models), so a store with a Pythia-shaped schedule takes
milliseconds. Every planted value is a closed-form function of the step, so tests can
assert exact aggregates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tracker.store import Metric, ProbeResult, StepShard, consolidate, write_shard

TOKENS_PER_STEP = 2_097_152
STEPS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 2000, 4000, 8000, 16000, 33000, 66000,
         143000]
INDUCTION_HASH = "0123456789abcdef"
ICL_HASH = "fedcba9876543210"
THRESHOLD = 0.4
LAYERS, HEADS = 4, 6
STRONG_HEAD = (1, 2)
SECOND_HEAD = (2, 4)


def rise(step: int, midpoint: float, width: float = 0.25) -> float:
    """Sigmoid in log10(step + 1) centred on ``midpoint`` (a step)."""
    return float(1.0 / (1.0 + np.exp(-(np.log10(step + 1) - np.log10(midpoint)) / width)))


def induction_scores(step: int, midpoint: float) -> np.ndarray:
    """Planted (layers, heads) induction scores: flat 0.05 + a per-head offset, two risers."""
    grid = 0.05 + 0.001 * np.arange(LAYERS * HEADS, dtype=np.float64).reshape(LAYERS, HEADS)
    grid[STRONG_HEAD] += 0.8 * rise(step, midpoint)
    grid[SECOND_HEAD] += 0.45 * rise(step, midpoint * 4)
    return grid.astype(np.float32)


def icl_score(step: int, midpoint: float) -> float:
    """Planted scalar in-context-learning score."""
    return float(np.float32(0.1 + 0.5 * rise(step, midpoint)))


def planted_store(path: Path, series: str = "EleutherAI/pythia-160m", midpoint: float = 1000,
                  steps: list[int] = STEPS, repeated: tuple[int, ...] = (),
                  icl: bool = True) -> Path:
    """Write and consolidate a store whose induction head L1.H2 rises around ``midpoint``.

    Args:
        path: Store path.
        series: Series id.
        midpoint: Step at which the strong head is halfway up (L2.H4 rises 4x later).
        steps: Checkpoint steps.
        repeated: Steps given the previous step's weights hash (flagged as repeated).
        icl: Also store a scalar ``icl/icl_score`` probe (version 2).
    """
    previous, prev_step = "", -1
    for step in steps:
        weights = previous if step in repeated else f"{step:016x}"
        shard = StepShard(series, TOKENS_PER_STEP, step, step * TOKENS_PER_STEP, f"step{step}",
                          weights, repeats_step=prev_step if weights == previous else -1)
        previous, prev_step = weights, step
        ind = ProbeResult("induction", 1, '{"n_seqs":16,"seed":0,"seq_len":50,"threshold":0.4}',
                          INDUCTION_HASH)
        ind.add(Metric(name="induction_score", kind="head",
                       description="attention to the token after the earlier occurrence",
                       higher_is_mechanism=True, threshold=THRESHOLD),
                induction_scores(step, midpoint))
        ind.add(Metric(name="prev_token_score", kind="head",
                       description="attention to the previous position", higher_is_mechanism=True,
                       threshold=THRESHOLD),
                np.full((LAYERS, HEADS), 0.1, np.float32)
                + 0.5 * rise(step, 50) * np.eye(LAYERS, HEADS, dtype=np.float32))
        shard.results[("induction", ind.key)] = ind
        if icl:
            res = ProbeResult("icl", 2, '{"n_texts":64}', ICL_HASH)
            res.add(Metric(name="icl_score", kind="scalar",
                           description="loss(late tokens) - loss(early tokens)",
                           higher_is_mechanism=True),
                    np.float32(icl_score(step, midpoint)))
            shard.results[("icl", res.key)] = res
        write_shard(path, shard)
    consolidate(path, {"kind": "hub", "series_id": series, "cache_dir": "/data/hf-cache"})
    return path


def planted_events(series: str, midpoint: float) -> pd.DataFrame:
    """Events matching :func:`planted_store` (what a detector should report)."""
    rows = []
    risers = ((STRONG_HEAD, midpoint, 0.8), (SECOND_HEAD, midpoint * 4, 0.45))
    for (layer, head), mid, mag in risers:
        onset, end = mid / 3, mid * 3
        rows.append({"series": series, "kind": "emergence", "metric": "induction_score",
                     "probe": "induction", "layer": layer, "head": head, "onset_step": onset,
                     "midpoint_step": mid, "end_step": end,
                     "onset_tokens": onset * TOKENS_PER_STEP,
                     "midpoint_tokens": mid * TOKENS_PER_STEP,
                     "end_tokens": end * TOKENS_PER_STEP, "magnitude": mag,
                     "confidence": 0.97, "detector": "sigmoid-v1", "members": ""})
    rows.append({"series": series, "kind": "phase_transition", "metric": "icl_score",
                 "probe": "icl", "layer": -1, "head": -1, "onset_step": midpoint / 2,
                 "midpoint_step": midpoint, "end_step": midpoint * 2,
                 "onset_tokens": midpoint / 2 * TOKENS_PER_STEP,
                 "midpoint_tokens": midpoint * TOKENS_PER_STEP,
                 "end_tokens": midpoint * 2 * TOKENS_PER_STEP, "magnitude": 0.5,
                 "confidence": 0.9, "detector": "bocpd-v1",
                 "members": "icl_score,induction_score"})
    return pd.DataFrame(rows)


def store_events(events_by_store: dict[Path, pd.DataFrame]) -> None:
    """Write hand-made events into stores through ``tracker.events.write_events``."""
    from tracker.events import Event, write_events

    fields = Event.__dataclass_fields__
    for path, frame in events_by_store.items():
        # A frame joining rows with and without a text column holds NaN there: the default.
        events = [Event(**{k: v for k, v in row.items() if k in fields
                           and not (fields[k].type == "str" and not isinstance(v, str))})
                  for row in frame.to_dict("records")]
        write_events(path, events, {"detector": "planted"})


# A store with the circuit probe: one task (``ioi``) on a 2-layer x 3-head graph.
CIRCUIT_SERIES = "organisms/circuit-toy"
CIRCUIT_STEPS = [0, 10, 20, 40, 80, 160, 320, 640]
CIRCUIT_TOKENS_PER_STEP = 1000
CIRCUIT_FROM = 2  # no circuit (the model cannot do the task) before this checkpoint
EARLY_EDGES, LATE_EDGES = (0, 1, 2, 3), (2, 3, 4, 5)  # checkpoints 2-3, then 4 on
SWAP_AT = 5  # the name-mover role passes L1H0 -> L1H1 at this checkpoint (step 160)


def _circuit_metric(name: str, kind: str, shape: tuple[int, ...] = (),
                    threshold: float | None = None) -> Metric:
    return Metric(name=name, kind=kind, shape=shape, threshold=threshold,
                  higher_is_mechanism=True if kind == "head" else None)


def circuit_shards(series: str = CIRCUIT_SERIES) -> list[StepShard]:
    """Step shards of :func:`circuit_store` (the same a live sweep would hand W&B).

    Edges 0-3 form the circuit at checkpoints 2-3 and edges 2-5 from checkpoint 4 on, so
    Jaccard similarity to the final circuit is NaN, NaN, 1/3, 1/3, 1, 1, 1, 1; the name mover
    is L1H0 at checkpoints 2-4 and L1H1 from checkpoint 5; no head is ever an S-inhibition
    head.
    """
    from tracker.circuits import CircuitGraph

    graph = CircuitGraph(2, 3, True)
    n = graph.n_edges
    shards = []
    for i, step in enumerate(CIRCUIT_STEPS):
        shard = StepShard(series, CIRCUIT_TOKENS_PER_STEP, step,
                          step * CIRCUIT_TOKENS_PER_STEP, f"step{step}", f"{step:016x}")
        res = ProbeResult("circuits", 1, '{"target":0.8}', INDUCTION_HASH)
        defined = i >= CIRCUIT_FROM
        mask = np.full(n, np.nan)
        heads = np.full((2, 3), np.nan)
        mover = np.full((2, 3), np.nan)
        if defined:
            mask[:] = 0.0
            mask[list(EARLY_EDGES if i < 4 else LATE_EDGES)] = 1.0
            heads[:] = 0.0
            heads[1, :2] = 1.0
            mover[:] = 0.0
            mover[1, 0 if i < SWAP_AT else 1] = 1.0
        size = float(np.nansum(mask)) if defined else np.nan
        res.add(_circuit_metric("circuit_ioi_edge_scores", "vector", (n,)),
                -np.linspace(1.0, 0.1, n) * (1 + i))
        res.add(_circuit_metric("circuit_ioi_in_circuit", "vector", (n,)), mask)
        res.add(_circuit_metric("circuit_ioi_size", "scalar"), size)
        res.add(_circuit_metric("circuit_ioi_size_fraction", "scalar"), size / n)
        res.add(_circuit_metric("circuit_ioi_faithfulness", "scalar"),
                0.8 + 0.01 * i if defined else np.nan)
        res.add(_circuit_metric("circuit_ioi_faithfulness_ratio", "scalar"),
                0.9 if defined else np.nan)
        res.add(_circuit_metric("circuit_ioi_curve", "vector", (3,)),
                np.array([0.1, 0.5, 1.0]) if defined else np.full(3, np.nan))
        res.add(_circuit_metric("circuit_ioi_clean_metric", "scalar"), 0.1 * i)
        res.add(_circuit_metric("circuit_ioi_heads", "head", threshold=0.5), heads)
        res.add(_circuit_metric("circuit_ioi_name_mover", "head", threshold=0.5), mover)
        res.add(_circuit_metric("circuit_ioi_s_inhibition", "head", threshold=0.5),
                np.where(np.isnan(mover), np.nan, 0.0))
        res.static = {"edge_names": np.array([e.name for e in graph.edges], dtype=object),
                      "graph": np.array([2, 3, 1])}
        shard.results[("circuits", res.key)] = res
        shards.append(shard)
    return shards


def circuit_store(path: Path, series: str = CIRCUIT_SERIES) -> Path:
    """Write and consolidate the store of :func:`circuit_shards`."""
    for shard in circuit_shards(series):
        write_shard(path, shard)
    consolidate(path, {"kind": "organism", "series_id": series})
    return path


# A store with the token-cluster probe: 3 layers (4 boundaries), 3 betas.
CLUSTER_SERIES = "organisms/cluster-toy"
CLUSTER_STEPS = CIRCUIT_STEPS
CLUSTER_BETAS = ("0p1", "1", "5")
CLUSTER_COLLAPSE = 2  # the mass near 1 climbs over the layers at this checkpoint (step 20)
CLUSTER_MONOTONE = (0, 1, 2, 3, 6)  # checkpoints without an energy fall: steps 0-40, 320
CLUSTER_FALLS = np.array([0.0, 0.5, 0.25])  # share of curves falling per layer, elsewhere


def cluster_mass(i: int) -> np.ndarray:
    """Planted (4,) mass near 1 of checkpoint ``i``: 0.62 at the last boundary at the
    collapse, 0.05 there at other checkpoints."""
    slope = 0.2 if i == CLUSTER_COLLAPSE else 0.01
    return 0.02 + slope * np.arange(4)


def cluster_shards(series: str = CLUSTER_SERIES, ratio: bool = False) -> list[StepShard]:
    """Step shards of :func:`cluster_store`.

    Args:
        series: Series id.
        ratio: Plant a defined two-timescale ratio (0.5 x checkpoint index, verdict from it)
            from checkpoint 1 on; otherwise it is undefined everywhere, the control being
            collapsed at the embeddings (onset 0), as in rotary models.
    """
    def metric(name: str, kind: str, shape: tuple[int, ...] = ()) -> Metric:
        return Metric(name=name, kind=kind, shape=shape, higher_is_mechanism=None,
                      description=name.replace("_", " "))

    shards = []
    for i, step in enumerate(CLUSTER_STEPS):
        shard = StepShard(series, CIRCUIT_TOKENS_PER_STEP, step,
                          step * CIRCUIT_TOKENS_PER_STEP, f"step{step}", f"{step:016x}")
        res = ProbeResult("clusters", 1, '{"n_prompts":8}', ICL_HASH)
        falls = np.zeros(3) if i in CLUSTER_MONOTONE else CLUSTER_FALLS
        boundaries = np.arange(4)
        res.add(metric("mass_near_1", "vector", (4,)), cluster_mass(i))
        for suffix in CLUSTER_BETAS:
            beta = float(suffix.replace("p", "."))
            res.add(metric(f"energy_beta{suffix}", "vector", (4,)),
                    (1 + 0.1 * boundaries + 0.01 * i) / (2 * beta))
        res.add(metric("clusters_hdbscan", "vector", (4,)), 30.0 + boundaries + i)
        res.add(metric("energy_worst_drop", "vector", (4,)), np.full(4, float(i)))
        res.add(metric("energy_violation_rate", "layer", (3,)), falls)
        res.add(metric("cka", "layer", (3,)), 0.9 - 0.01 * i - 0.1 * np.arange(3))
        violations = metric("energy_violations", "scalar")
        res.add(violations, falls.sum() * len(CLUSTER_BETAS))
        res.add(violations.standard_error(), 0.1)
        res.add(metric("energy_monotone", "scalar"), 1.0 if i in CLUSTER_MONOTONE else 0.5)
        onset = 2.0 if ratio and i >= 1 else 0.0
        value = 0.5 * i if ratio and i >= 1 else np.nan
        res.add(metric("collapse_onset_layer", "scalar"), onset)
        res.add(metric("two_timescale_ratio", "scalar"), value)
        res.add(metric("two_timescale_verdict", "scalar"),
                np.nan if np.isnan(value) else 2.0 if value > 2 else float(value >= 1))
        res.add(metric("clusters_last", "scalar"), 33.0 + i)
        res.add(metric("ov_spectral_radius_max", "scalar"), 0.1 * 2.0 ** i)
        res.add(metric("collapse_speed", "scalar"), 0.01 * (i == CLUSTER_COLLAPSE))
        res.add(metric("cluster_prompts", "scalar"), 8.0)  # constant: no generic curve
        res.add(metric("cluster_lifespan", "scalar"), np.nan)  # never measured: none either
        shard.results[("clusters", res.key)] = res
        shards.append(shard)
    return shards


def cluster_store(path: Path, series: str = CLUSTER_SERIES, ratio: bool = False) -> Path:
    """Write and consolidate the store of :func:`cluster_shards`."""
    for shard in cluster_shards(series, ratio):
        write_shard(path, shard)
    consolidate(path, {"kind": "organism", "series_id": series})
    return path


# A store with the dormant probe: 2 layers x 2 heads, labels planted per checkpoint.
DORMANT_SERIES = "organisms/dormant-toy"
DORMANT_STEPS = [0, 10, 20, 40, 80, 160, 320, 640]
DORMANT_DOMAINS = ("random", "text", "repeated")
DORMANT_TEXT_FROM = 3  # L0H1 dormant on text (active elsewhere) from this checkpoint
DORMANT_ALL_FROM = 5  # L1H1 dormant on every domain from this checkpoint
DORMANT_FLICKER = 4  # L1H0 dormant on random at this checkpoint only


def dormant_labels_at(index: int) -> dict[str, np.ndarray]:
    """Planted (2, 2) labels per domain at checkpoint ``index`` (see the constants above)."""
    out = {}
    for domain in DORMANT_DOMAINS:
        grid = np.zeros((2, 2))
        grid[0, 1] = float(domain == "text" and index >= DORMANT_TEXT_FROM)
        grid[1, 1] = float(index >= DORMANT_ALL_FROM)
        grid[1, 0] = float(domain == "random" and index == DORMANT_FLICKER)
        out[domain] = grid
    return out


def dormant_store(path: Path, series: str = DORMANT_SERIES) -> Path:
    """Write and consolidate a store holding only the dormant probe's labels and masses.

    ``first_mass_{domain}`` is 0.95 where a head is dormant and 0.1 elsewhere,
    ``out_ratio_{domain}`` 0.05 and 0.9.
    """
    for index, step in enumerate(DORMANT_STEPS):
        shard = StepShard(series, 1000, step, step * 1000, f"step{step}", f"{step:016x}")
        res = ProbeResult("dormant", 1, '{"mass_threshold":0.8}', "00dd00dd00dd00dd")
        labels = dormant_labels_at(index)
        for domain, grid in labels.items():
            res.add(Metric(name=f"first_mass_{domain}", kind="head", threshold=0.8,
                           description="first-token mass"),
                    np.where(grid == 1.0, 0.95, 0.1).astype(np.float32))
            res.add(Metric(name=f"out_ratio_{domain}", kind="head", threshold=0.3,
                           higher_is_mechanism=None, description="output ratio"),
                    np.where(grid == 1.0, 0.05, 0.9).astype(np.float32))
            res.add(Metric(name=f"dormant_{domain}", kind="head", threshold=0.5,
                           resolution=1.0, description="1 dormant"), grid.astype(np.float32))
        stack = np.stack(list(labels.values()))
        both = (stack == 1.0).any(0) & (stack == 0.0).any(0)
        res.add(Metric(name="active_dormant", kind="head", threshold=0.5, resolution=1.0,
                       description="1 active-dormant"), both.astype(np.float32))
        shard.results[("dormant", res.key)] = res
        write_shard(path, shard)
    consolidate(path, {"kind": "hub", "series_id": series, "cache_dir": "/data/hf-cache"})
    return path


# A store with the LLC probe: a peak at step LLC_PEAK on the cluster/circuit step grid.
LLC_SERIES = "organisms/llc-toy"
LLC_PEAK = 80
LLC_UNSETTLED = 1  # the trace of this checkpoint (step 10) did not settle


def llc_value(step: int) -> float:
    """Planted LLC: 5 + 20 exp(-(log10(step / LLC_PEAK) / 0.5)^2); 5 at step 0."""
    if step <= 0:
        return 5.0
    return 5.0 + 20.0 * float(np.exp(-((np.log10(step / LLC_PEAK) / 0.5) ** 2)))


def llc_store(path: Path, series: str = LLC_SERIES) -> Path:
    """Write and consolidate a store with the LLC probe's curve, std (10%) and settled flag."""
    none = {"higher_is_mechanism": None}
    for i, step in enumerate(CIRCUIT_STEPS):
        shard = StepShard(series, CIRCUIT_TOKENS_PER_STEP, step,
                          step * CIRCUIT_TOKENS_PER_STEP, f"step{step}", f"{step:016x}")
        res = ProbeResult("llc", 1, '{"lr":0.001}', ICL_HASH)
        res.add(Metric(name="llc", kind="scalar", **none), llc_value(step))
        res.add(Metric(name="llc_std", kind="scalar", **none), 0.1 * llc_value(step))
        res.add(Metric(name="llc_settled", kind="scalar", **none),
                0.0 if i == LLC_UNSETTLED else 1.0)
        shard.results[("llc", res.key)] = res
        write_shard(path, shard)
    consolidate(path, {"kind": "organism", "series_id": series})
    return path
