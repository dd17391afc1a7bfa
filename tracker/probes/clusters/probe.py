"""The token-cluster probe: metastable clusters of token vectors over layers, per checkpoint.

Inputs: the first ``n_prompts`` documents of a text dataset with at least ``prompt_tokens``
tokens (for the organism suite its held-out split, see :mod:`tracker.probes.text_data`), cut
to that length, and a control prompt of one token repeated as often; each after a BOS token by
default. One forward pass captures the residual stream at every layer boundary (the
embeddings are boundary 0, boundary ``l + 1`` follows layer ``l``). The BOS position is left
out of every measurement unless ``include_bos`` (the choice is in the config, so it is
recorded with the results and keys them).

Per prompt, :func:`~tracker.probes.clusters.sequence.analyse_sequence` measures each boundary;
stored values are means over prompts, each with a bootstrap standard error over the prompts
(``NAME_se``). Shapes, with ``K = n_layers + 1`` boundaries and ``L = n_layers``:

* ``(K,)`` vectors, a layer x step heatmap each: ``ip_mean``, ``ip_std``, ``mass_near_1``,
  ``effective_rank``, ``energy_beta{b}`` (one per beta: ``0p1``, ``1``, ``2``, ``5``),
  ``clusters_eigengap``, ``clusters_hdbscan``, ``plateau_fraction`` (share of prompts whose
  boundary lies on a plateau), ``control_mass_near_1``, ``control_effective_rank``;
* ``(K * bins,)`` ``ip_hist`` and ``(K * thresholds,)`` ``clusters_agglomerative``: boundary-
  major (``value.reshape(K, -1)`` gives one row per boundary);
* layer metrics ``(L,)``, entry ``l`` for the transition from boundary ``l`` to ``l + 1``:
  ``cka``, ``nn_stability``, ``energy_violation_rate`` (share of prompt x beta curves that
  fall there), ``cluster_births``, ``cluster_deaths``, ``cluster_merges``; and the weights'
  ``ov_spectral_radius``, ``ov_frac_pos_real``, ``ov_frac_neg_real``, ``ov_frac_complex``
  (:mod:`~tracker.probes.clusters.spectra`; no error, they are not means over prompts);
* scalars, the per-step summaries the detectors test: ``collapse_onset_layer``,
  ``two_timescale_ratio``, ``two_timescale_verdict`` (0 none, 1 weak, 2 confirmed, NaN
  undefined; see :mod:`~tracker.probes.clusters.plateaus`), ``energy_violations`` (violations
  per prompt, summed over betas and transitions), ``energy_monotone`` (share of prompt x beta
  curves with none), ``ov_spectral_radius_max``, ``clusters_last`` (HDBSCAN count at the last
  boundary), ``plateau_width`` (mean width of the plateaus of all prompts; 0 without any),
  ``cluster_lifespan`` (mean boundaries a tracked cluster lives), ``metastable_clusters``
  (tracked clusters per prompt living at least ``plateau_layers`` boundaries),
  ``collapse_speed`` (slope of the mass near 1 per layer), ``cluster_prompts``;
* ``energy_worst_drop`` ``(4,)``: (prompt, beta index, transition, drop) of the largest energy
  fall of the checkpoint, and ``energy_drop_pairs`` ``(3 * top_pairs,)``: the ``(i, j,
  delta)`` token pairs (positions after BOS) that fell most there; NaN without a violation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tracker.metric import Metric
from tracker.probes.base import ProbeValues
from tracker.probes.clusters import plateaus
from tracker.probes.clusters.config import ClustersConfig
from tracker.probes.clusters.geometry import effective_rank, gram, inner_product_stats
from tracker.probes.clusters.sequence import SequenceStats, analyse_sequence
from tracker.probes.clusters.spectra import layer_spectra
from tracker.probes.context import ProbeContext
from tracker.probes.prompts import bos_prefix
from tracker.probes.registry import register_probe
from tracker.probes.text_data import TextProbe, iter_token_docs, resolve_text_dataset
from tracker.probes.uncertainty import bootstrap_se, bootstrap_stat_se, with_errors

#: Vector metrics per boundary, averaged over prompts: name -> (field, description).
_PER_BOUNDARY = {
    "ip_mean": ("ip_mean", "mean cosine inner product of token pairs"),
    "ip_std": ("ip_std", "standard deviation of the pair inner products"),
    "mass_near_1": ("mass", "fraction of token pairs with inner product above the threshold"),
    "effective_rank": ("effective_rank", "effective rank of the raw token vectors"),
    "clusters_eigengap": ("eigengap", "cluster count by the normalised-Laplacian eigengap"),
    "clusters_hdbscan": ("hdbscan", "HDBSCAN cluster count on cosine distance"),
}
#: Layer metrics per transition, averaged over prompts: name -> description.
_PER_TRANSITION = {
    "cka": "linear CKA of the token vectors before and after the layer",
    "nn_stability": "fraction of tokens whose nearest neighbour the layer leaves unchanged",
    "energy_violation_rate": "share of prompt x beta energy curves that fall at the layer",
    "cluster_births": "HDBSCAN clusters born at the layer",
    "cluster_deaths": "HDBSCAN clusters that die at the layer",
    "cluster_merges": "HDBSCAN clusters merged into another at the layer",
}
_SPECTRA = {
    "ov_spectral_radius": "spectral radius of the layer's summed OV map",
    "ov_frac_pos_real": "fraction of OV eigenvalues with positive real part",
    "ov_frac_neg_real": "fraction of OV eigenvalues with negative real part",
    "ov_frac_complex": "fraction of OV eigenvalues that are complex",
}


def _mean(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0 ignoring NaN (NaN where every item is)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        count = np.sum(~np.isnan(values), axis=0)
        return np.where(count > 0, np.nansum(values, axis=0) / np.maximum(count, 1), np.nan)


@register_probe
class ClustersProbe(TextProbe[ClustersConfig]):
    """Token clusters over layers: geometry, energy, counts, tracks, plateaus, OV spectra."""

    name = "clusters"
    version = 1
    description = (
        "token clusters across layer boundaries: inner products, energy, effective rank, "
        "CKA, cluster counts and tracks, plateaus, two-timescale verdict, OV spectra"
    )
    Config = ClustersConfig

    def _bos_note(self) -> str:
        return "BOS included" if self.config.include_bos else "BOS excluded"

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Declare the metrics (their shapes follow the model's depth)."""
        cfg = self.config
        k, n_prompts = ctx.adapter.n_layers + 1, cfg.n_prompts
        note = f" ({self._bos_note()})"

        def vec(name: str, text: str, size: int = k) -> Metric:
            return Metric(name=name, kind="vector", shape=(size,), higher_is_mechanism=None,
                          description=text + note)

        def scalar(name: str, text: str, resolution: float | None = None) -> Metric:
            return Metric(name=name, kind="scalar", higher_is_mechanism=None,
                          resolution=resolution, description=text + note)

        averaged = [vec(n, f"{t}, per layer boundary") for n, (_, t) in _PER_BOUNDARY.items()]
        averaged += [vec(f"energy_beta{s}", f"interaction energy E_beta, beta={b:g}, per layer "
                         "boundary") for s, b in zip(cfg.beta_names(), cfg.betas, strict=True)]
        averaged += [
            vec("plateau_fraction", "share of prompts whose boundary lies on a mass plateau"),
            vec("ip_hist", f"inner-product histogram ({cfg.hist_bins} bins on [-1, 1]), "
                "boundary-major", k * cfg.hist_bins),
            vec("clusters_agglomerative", f"average-linkage cluster counts at "
                f"{len(cfg.thresholds)} cosine-distance thresholds, boundary-major",
                k * len(cfg.thresholds)),
        ]
        averaged += [Metric(name=n, kind="layer", higher_is_mechanism=None,
                            description=t + note) for n, t in _PER_TRANSITION.items()]
        averaged += [
            scalar("energy_violations", "energy falls per prompt over betas and layers",
                   1.0 / n_prompts),
            scalar("energy_monotone", "share of prompt x beta energy curves never falling"),
            scalar("clusters_last", "HDBSCAN cluster count at the last layer boundary"),
            scalar("plateau_width", "mean width in boundaries of the mass-near-1 plateaus"),
            scalar("cluster_lifespan", "mean layer boundaries a tracked cluster lives"),
            scalar("metastable_clusters", f"tracked clusters per prompt living at least "
                   f"{cfg.plateau_layers} boundaries"),
            scalar("collapse_speed", "slope of the mass near 1 per layer (least squares)"),
            scalar("two_timescale_ratio", "mean plateau width over the collapse onset layer"),
        ]
        single = [vec(f"control_{n}", f"{t} of the repeated-token control") for n, t in
                  (("mass_near_1", "mass near 1"), ("effective_rank", "effective rank"))]
        single += [Metric(name=n, kind="layer", higher_is_mechanism=None, description=t)
                   for n, t in _SPECTRA.items()]
        single += [
            scalar("collapse_onset_layer", f"first boundary where the control's mass near 1 "
                   f"exceeds {cfg.collapse_mass:g} (NaN: never)", 1.0),
            scalar("two_timescale_verdict", "0 none, 1 weak, 2 confirmed, NaN undefined", 1.0),
            scalar("ov_spectral_radius_max", "largest spectral radius of a layer's OV map"),
            scalar("cluster_prompts", "prompts measured", 1.0),
            vec("energy_worst_drop", "prompt, beta index, transition and size of the largest "
                "energy fall", 4),
            vec("energy_drop_pairs", "(i, j, delta) of the token pairs falling most at the "
                "largest energy fall", 3 * cfg.top_pairs),
        ]
        skip = [m.name for m in single] + ["two_timescale_ratio"]
        errors = with_errors(averaged, skip=skip)
        ratio_se = Metric(name="two_timescale_ratio", kind="scalar").standard_error()
        return errors + [ratio_se] + single

    def _length(self, ctx: ProbeContext) -> int:
        room = ctx.adapter.n_ctx - len(bos_prefix(ctx, self.config.prepend_bos))
        return max(2, min(self.config.prompt_tokens, room))

    def _tokens(self, ctx: ProbeContext) -> torch.Tensor | None:
        """(n_prompts + 1, T) prompts then the control, or None without enough documents."""
        def build() -> torch.Tensor | None:
            cfg = self.config
            length = self._length(ctx)
            source = resolve_text_dataset(ctx, cfg.dataset, cfg.dataset_digest)
            docs: list[list[int]] = []
            for scanned, doc in enumerate(iter_token_docs(source, ctx.tokenizer, cfg.text_column)):
                if len(docs) >= cfg.n_prompts or scanned >= cfg.max_scan:
                    break
                if len(doc) >= length:
                    docs.append(doc[:length])
            if not docs:
                return None
            token = cfg.control_token if cfg.control_token >= 0 else docs[0][0]
            prefix = bos_prefix(ctx, cfg.prepend_bos)
            rows = [prefix + d for d in [*docs, [token] * length]]
            return torch.tensor(rows, dtype=torch.long)

        return ctx.memo(f"{self.name}:{self.key}", build)

    def declare(self, ctx: ProbeContext) -> None:
        """Announce the forward pass over prompts and control (residual stream)."""
        tokens = self._tokens(ctx)
        if tokens is not None:
            ctx.declare(tokens, {"resid"})

    @torch.no_grad()
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Measure the checkpoint."""
        tokens = self._tokens(ctx)
        spectra = layer_spectra(ctx.adapter)
        known: dict[str, Any] = {n: spectra[:, i] for i, n in enumerate(_SPECTRA)}
        known["ov_spectral_radius_max"] = float(spectra[:, 0].max()) if len(spectra) else np.nan
        if tokens is None:
            return self.missing(ctx, cluster_prompts=0.0, **known)
        cfg = self.config
        start = 0 if cfg.include_bos else len(bos_prefix(ctx, cfg.prepend_bos))
        resid = ctx.forward(tokens, {"resid"}).require("resid")[:, :, start:]
        resid_np = resid.double().cpu().numpy()  # (K, P + 1, n, D)
        seqs = [analyse_sequence(resid_np[:, p], cfg) for p in range(tokens.shape[0] - 1)]
        control = resid_np[:, -1]
        out: dict[str, Any] = dict(known, cluster_prompts=float(len(seqs)))
        out.update(self._averaged(seqs))
        out["control_mass_near_1"] = np.array([inner_product_stats(gram(x))[2] for x in control])
        out["control_effective_rank"] = np.array([effective_rank(x) for x in control])
        onset = plateaus.collapse_onset(out["control_mass_near_1"], cfg.collapse_mass)
        out["collapse_onset_layer"] = onset
        ratio = plateaus.two_timescale_ratio(out["plateau_width"], onset)
        out["two_timescale_ratio"] = ratio
        out["two_timescale_ratio_se"] = (out["plateau_width_se"] / onset
                                         if np.isfinite(ratio) else np.nan)
        out["two_timescale_verdict"] = plateaus.verdict(ratio)
        out.update(self._worst(seqs))
        return {k: (np.asarray(v, dtype=np.float64) if isinstance(v, np.ndarray) else float(v))
                for k, v in out.items()}

    def _averaged(self, seqs: list[SequenceStats]) -> dict[str, Any]:
        """Means over prompts of every per-prompt value, each with its bootstrap error."""
        cfg = self.config
        n_bounds = len(seqs[0].mass)
        items: dict[str, np.ndarray] = {
            name: np.stack([getattr(s, field) for s in seqs])
            for name, (field, _) in _PER_BOUNDARY.items()}
        for i, suffix in enumerate(cfg.beta_names()):
            items[f"energy_beta{suffix}"] = np.stack([s.energy[i] for s in seqs])
        items["plateau_fraction"] = np.stack(
            [plateaus.plateau_mask(s.plateaus, n_bounds) for s in seqs])
        items["ip_hist"] = np.stack([s.hist.ravel() for s in seqs])
        items["clusters_agglomerative"] = np.stack([s.agglomerative.ravel() for s in seqs])
        items["cka"] = np.stack([s.cka for s in seqs])
        items["nn_stability"] = np.stack([s.nn_stability for s in seqs])
        items["energy_violation_rate"] = np.stack([s.violations.mean(axis=0) for s in seqs])
        for kind in ("births", "deaths", "merges"):
            items[f"cluster_{kind}"] = np.stack([getattr(s.tracks, kind) for s in seqs])
        items["energy_violations"] = np.array([s.violations.sum() for s in seqs])
        items["energy_monotone"] = np.array([1.0 - s.violations.any(axis=1).mean()
                                             for s in seqs])
        items["clusters_last"] = np.array([s.hdbscan[-1] for s in seqs])
        items["cluster_lifespan"] = np.array(
            [s.tracks.lifespans.mean() if s.tracks.lifespans.size else np.nan for s in seqs])
        items["metastable_clusters"] = np.array(
            [float((s.tracks.lifespans >= cfg.plateau_layers).sum()) for s in seqs])
        items["collapse_speed"] = np.array([s.collapse_speed for s in seqs])
        out: dict[str, Any] = {}
        for name, values in items.items():
            out[name] = _mean(values)
            out[f"{name}_se"] = bootstrap_se(values, cfg)
        widths = [np.array([len(r) for r in s.plateaus], dtype=float) for s in seqs]

        def pooled(idx: np.ndarray) -> float:
            chosen = np.concatenate([widths[i] for i in idx])
            return float(chosen.mean()) if chosen.size else 0.0

        out["plateau_width"] = pooled(np.arange(len(seqs)))
        out["plateau_width_se"] = float(bootstrap_stat_se(len(seqs), pooled, cfg))
        return out

    def _worst(self, seqs: list[SequenceStats]) -> dict[str, np.ndarray]:
        """Return the largest energy fall over prompts and the token pairs behind it."""
        top = self.config.top_pairs
        drops = np.array([s.worst[2] for s in seqs])
        if np.isnan(drops).all():
            return {"energy_worst_drop": np.full(4, np.nan),
                    "energy_drop_pairs": np.full(3 * top, np.nan)}
        p = int(np.nanargmin(drops))
        return {"energy_worst_drop": np.concatenate([[p], seqs[p].worst]),
                "energy_drop_pairs": seqs[p].worst_pairs.ravel()}
