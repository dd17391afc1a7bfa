"""Config of the token-cluster probe (its fields key the stored results)."""

from __future__ import annotations

from dataclasses import dataclass

from tracker.probes.prompts import as_tuple
from tracker.probes.uncertainty import BootstrapConfig

#: Distance thresholds of the agglomerative counts: 0.05, 0.10, ..., 0.60 (12 values).
THRESHOLDS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 13))
#: Inverse temperatures of the interaction energy.
BETAS: tuple[float, ...] = (0.1, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class ClustersConfig(BootstrapConfig):
    """Config of the token-cluster probe.

    Attributes:
        dataset: Name of the text dataset (resolved by :mod:`tracker.probes.text_data`).
        dataset_digest: Content digest of ``dataset`` when it is a path ("" for names).
        text_column: Column holding the text when the rows are not pre-tokenized.
        n_prompts: Documents measured (the first long enough ones).
        prompt_tokens: Tokens per prompt (shrunk to fit the context).
        max_scan: Documents read at most while looking for long enough ones.
        prepend_bos: Run each prompt (and the control) after a BOS token.
        include_bos: Count the BOS position among the tokens measured (default: excluded, as
            an attention sink it sits apart from the text and would dominate the geometry).
        control_token: Token id repeated in the control prompt; -1 takes the first token of
            the first prompt.
        betas: Inverse temperatures of the energy.
        mass_threshold: Inner product above which a pair counts toward the mass near 1.
        hist_bins: Bins of the inner-product histogram on [-1, 1].
        energy_tol: Decrease of the energy between layers that counts as a violation.
        top_pairs: Token pairs recorded for the largest violation.
        cka_min_rank: Effective rank below which CKA is NaN (a collapsed layer).
        thresholds: Cosine-distance thresholds of the agglomerative counts.
        eigengap_max_k: Largest cluster count the eigengap can return.
        min_cluster_size: HDBSCAN's smallest cluster.
        min_jaccard: Smallest overlap of a cluster match across layers.
        plateau_layers: Fewest consecutive boundaries a plateau spans.
        plateau_tol: Largest (max - min) / |mean| of the mass near 1 on a plateau.
        collapse_mass: Mass near 1 of the control that marks its collapse.
    """

    dataset: str = "default"
    dataset_digest: str = ""
    text_column: str = "text"
    n_prompts: int = 8
    prompt_tokens: int = 128
    max_scan: int = 10_000
    prepend_bos: bool = True
    include_bos: bool = False
    control_token: int = -1
    betas: tuple[float, ...] = BETAS
    mass_threshold: float = 0.9
    hist_bins: int = 50
    energy_tol: float = 1e-6
    top_pairs: int = 5
    cka_min_rank: float = 3.0
    thresholds: tuple[float, ...] = THRESHOLDS
    eigengap_max_k: int = 15
    min_cluster_size: int = 2
    min_jaccard: float = 0.1
    plateau_layers: int = 3
    plateau_tol: float = 0.1
    collapse_mass: float = 0.9

    def __post_init__(self) -> None:
        # JSON overrides arrive as lists; tuples keep the config hashable.
        object.__setattr__(self, "betas", tuple(float(b) for b in as_tuple(self.betas)))
        object.__setattr__(self, "thresholds",
                           tuple(float(t) for t in as_tuple(self.thresholds)))
        if not self.betas or min(self.betas) <= 0:
            raise ValueError(f"betas must be positive, got {self.betas}")
        if self.n_prompts < 1 or self.prompt_tokens < 3:
            raise ValueError("need at least one prompt of at least 3 tokens")
        if self.plateau_layers < 2:
            raise ValueError(f"plateau_layers must be at least 2, got {self.plateau_layers}")

    def beta_names(self) -> list[str]:
        """Metric-name suffix of each beta: ``0p1``, ``1``, ``2``, ``5``."""
        return [f"{b:g}".replace(".", "p").replace("-", "m") for b in self.betas]
