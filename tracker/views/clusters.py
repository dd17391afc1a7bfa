"""Token clusters read for people: one series' layer x step arrays and per-step summaries.

The ``clusters`` probe (``tracker/probes/clusters/probe.py`` documents every metric) stores
per checkpoint ``(K,)`` vectors over layer boundaries (boundary 0 the embeddings, boundary
``l + 1`` the stream after layer ``l``), ``(L,)`` vectors over layers and scalar summaries.
:func:`cluster_series` gathers what the report draws into one :class:`ClusterSeries`
(``(n_steps, K)`` arrays are layer x step heatmaps once transposed), and
:func:`ratio_undefined_reason` and :func:`step_runs` put two of its facts into words.
This module reads the store only: it does not import the probe (and so not torch).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tracker.store import SeriesStore

#: Name of the token-cluster probe in a store.
PROBE = "clusters"
#: The beta whose energy the report draws as a heatmap (the middle of the probe's 0.1-5).
ENERGY_BETA = 1.0
#: Scalar and layer metrics the report's cluster figures draw, so the generic curves skip them.
DRAWN = ("energy_violations", "energy_violation_rate", "two_timescale_ratio",
         "two_timescale_verdict", "clusters_last", "ov_spectral_radius_max")
_ENERGY = re.compile(r"^energy_beta([0-9pm]+)$")
#: Two-timescale verdict numbers, as :mod:`tracker.probes.clusters.plateaus` stores them.
VERDICTS = {0: "none", 1: "weak", 2: "confirmed"}


def beta_of(suffix: str) -> float:
    """Inverse temperature of an ``energy_beta{suffix}`` name: ``0p1`` -> 0.1, ``5`` -> 5."""
    return float(suffix.replace("p", ".").replace("m", "-"))


def has_clusters(store: SeriesStore) -> bool:
    """Whether a store holds the cluster probe with a mass near 1 measured at some step."""
    if PROBE not in {p for p, _ in store.variants()}:
        return False
    names = {i.name for i in store.metric_infos(PROBE)}
    return "mass_near_1" in names and bool(np.isfinite(store.metric(PROBE, "mass_near_1")).any())


@dataclass(frozen=True)
class ClusterSeries:
    """One series' token-cluster measurements over checkpoints.

    Attributes:
        series: Series id.
        steps: (n,) training steps.
        tokens: (n,) tokens seen.
        mass: (n, K) mass near 1 per layer boundary (fraction of token pairs above 0.9).
        energy: beta -> (n, K) interaction energy E_beta per boundary.
        hdbscan: (n, K) HDBSCAN cluster count per boundary.
        violation_rate: (n, L) share of prompt x beta energy curves falling at each layer.
        violations: (n,) energy falls per prompt, summed over betas and layers.
        violations_se: (n,) its bootstrap standard error (NaN without one).
        monotone: (n,) share of prompt x beta energy curves that never fall.
        ratio: (n,) two-timescale ratio (NaN where undefined).
        verdict: (n,) its verdict number (:data:`VERDICTS`; NaN where undefined).
        onset: (n,) collapse-onset boundary of the repeated-token control (NaN: never).
        clusters_last: (n,) HDBSCAN count at the last boundary.
        spectral_radius: (n,) largest spectral radius of a layer's OV map.
    """

    series: str
    steps: np.ndarray
    tokens: np.ndarray
    mass: np.ndarray
    energy: dict[float, np.ndarray]
    hdbscan: np.ndarray
    violation_rate: np.ndarray
    violations: np.ndarray
    violations_se: np.ndarray
    monotone: np.ndarray
    ratio: np.ndarray
    verdict: np.ndarray
    onset: np.ndarray
    clusters_last: np.ndarray
    spectral_radius: np.ndarray

    @property
    def n_boundaries(self) -> int:
        """Layer boundaries K (layers + 1, the embeddings included)."""
        return int(self.mass.shape[1])

    @property
    def measured(self) -> np.ndarray:
        """(n,) whether the probe measured the checkpoint (a mass near 1 at some boundary)."""
        return np.isfinite(self.mass).any(axis=1)

    def heatmap_energy(self) -> tuple[float, np.ndarray]:
        """Return the beta drawn as a heatmap (:data:`ENERGY_BETA` or the nearest), its energy."""
        beta = min(self.energy, key=lambda b: abs(np.log(b / ENERGY_BETA)))
        return beta, self.energy[beta]

    def fall_share(self) -> np.ndarray:
        """Return the (n,) share of (prompt, beta, layer) places where the energy falls.

        Violations per prompt over betas x layers: comparable across depths.
        """
        possible = len(self.energy) * self.violation_rate.shape[1]
        return self.violations / possible if possible else np.full(len(self.steps), np.nan)


def _get(store: SeriesStore, names: set[str], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Read a metric as float64, or NaN of the given per-step shape if the store lacks it."""
    if name in names:
        return store.metric(PROBE, name).astype(np.float64)
    return np.full((len(store.steps), *shape), np.nan)


def cluster_series(store: SeriesStore) -> ClusterSeries:
    """Gather one store's token-cluster arrays (the probe's default variant).

    Raises:
        StoreError: If the store has no ``clusters`` probe.
    """
    infos = store.metric_infos(PROBE)
    names = {i.name for i in infos}
    mass = store.metric(PROBE, "mass_near_1").astype(np.float64)
    k = mass.shape[1]
    energy = {beta_of(m.group(1)): store.metric(PROBE, i.name).astype(np.float64)
              for i in infos if (m := _ENERGY.match(i.name))}
    se = store.standard_error(PROBE, "energy_violations")
    return ClusterSeries(
        series=store.series_id, steps=np.asarray(store.steps), tokens=np.asarray(store.tokens),
        mass=mass, energy=dict(sorted(energy.items())),
        hdbscan=_get(store, names, "clusters_hdbscan", (k,)),
        violation_rate=_get(store, names, "energy_violation_rate", (k - 1,)),
        violations=_get(store, names, "energy_violations", ()),
        violations_se=(se.astype(np.float64) if se is not None
                       else np.full(len(store.steps), np.nan)),
        monotone=_get(store, names, "energy_monotone", ()),
        ratio=_get(store, names, "two_timescale_ratio", ()),
        verdict=_get(store, names, "two_timescale_verdict", ()),
        onset=_get(store, names, "collapse_onset_layer", ()),
        clusters_last=_get(store, names, "clusters_last", ()),
        spectral_radius=_get(store, names, "ov_spectral_radius_max", ()))


def ratio_undefined_reason(view: ClusterSeries) -> str | None:
    """Say why the two-timescale ratio is undefined at every measured checkpoint.

    None if it is defined at one (or nothing was measured). The ratio divides by the
    control's collapse-onset boundary, so it is undefined when the control is collapsed
    already at the embeddings (onset 0: the repeated token's vectors are identical there, as
    with rotary positions) or never collapses (onset NaN).
    """
    measured = view.measured
    if not measured.any() or np.isfinite(view.ratio[measured]).any():
        return None
    onset = view.onset[measured]
    at_zero, never = int(np.sum(onset == 0)), int(np.sum(~np.isfinite(onset)))
    total = int(measured.sum())
    if at_zero == total:
        return ("the repeated-token control is collapsed already at the embeddings "
                "(collapse onset boundary 0; its tokens are identical vectors there, as "
                "without absolute position embeddings), so there is no fast collapse to time")
    if never == total:
        return ("the repeated-token control never collapses (its mass near 1 stays at or "
                "below the probe's level at every boundary)")
    return (f"the repeated-token control is collapsed already at the embeddings at {at_zero} "
            f"and never collapses at {never} of {total} checkpoints")


def step_runs(steps: Sequence[int] | np.ndarray, mask: Sequence[bool] | np.ndarray,
              limit: int = 6) -> str:
    """Name the runs of consecutive checkpoints where ``mask`` holds: ``"0–56, 896"``.

    Runs past ``limit`` are counted, not listed; "none" when the mask never holds.
    """
    flags = np.asarray(mask, dtype=bool)
    runs: list[str] = []
    start = None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            first, last = int(steps[start]), int(steps[i - 1])
            runs.append(f"{first:,}" if first == last else f"{first:,}–{last:,}")
            start = None
    if not runs:
        return "none"
    more = f" and {len(runs) - limit} more runs" if len(runs) > limit else ""
    return ", ".join(runs[:limit]) + more
