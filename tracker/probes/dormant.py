"""Active-dormant heads (Guo et al. 2024): per input domain, whether a head is parked.

Guo et al. ("Active-Dormant Attention Heads", 2024) explain attention sinks and value-state
drains with heads that are *dormant* on some inputs (nearly all attention on the first token,
whose value there is near zero, so the head writes almost nothing) and *active* on others.
This probe measures every head on three input domains of equal length ``T = 1 + n_repeats *
seq_len`` (the length of :mod:`tracker.probes.induction`'s input, shrunk to fit the context),
each starting with BOS at position 0:

* ``random``: [BOS] + ``T - 1`` tokens uniform over the non-special vocabulary (seed
  ``seed + 1``, so they differ from the repeated domain's);
* ``text``: the first ``n_docs`` documents of the series' text dataset (resolved as the ICL
  probe resolves it, :mod:`tracker.probes.text_data`) with at least ``T`` tokens after the
  BOS put in front (``prepend_bos``), cut to ``T``; NaN when the dataset has none;
* ``repeated``: [BOS] + x repeated (:func:`tracker.probes.inputs.repeated_tokens`, the
  induction probe's input; the pass is shared with it), where induction applies.

Per domain ``d`` and head, with ``A`` the pattern, ``v[k]`` the value vectors (bias included)
and ``w[k] = v[k] W_O`` what the head writes when it attends only to key ``k`` (before any
norm after attention, as in OLMo 2):

* ``first_mass_{d}``: mean over sequences and queries ``q >= 1`` of ``A[q, 0]`` (the sink
  probe's ``sink_score`` on this domain);
* ``out_ratio_{d}``: the head's output norm relative to its typical output, per sequence
  ``mean_{q>=1} |sum_k A[q, k] w[k]|`` over the head's *typical output* ``mean |w[k]|``, the
  norm of one token's write averaged over the positions ``k >= 1`` of all three domains
  (each domain's mean over its sequences, then the mean over the domains that have data).
  One normaliser for all domains, so a head writing nothing on one domain scores near 0
  there even when that domain's tokens have no write of their own. It is 1 for a head
  copying one token of typical write, ``~1/sqrt(n)`` for one spreading over ``n`` unrelated
  tokens, near 0 for a head parked on a zero value. Its error treats the normaliser as fixed
  (a mean over every position of every domain, far less noisy than one domain's output);
* ``value_ratio_{d}``: ``|v[0]| / mean_{k>=1} |v[k]|`` (the sink probe's value-norm ratio on
  this domain);
* ``dormant_{d}``: the label, **1 (dormant) when** ``first_mass_{d} >= mass_threshold``
  (0.8) **and** ``out_ratio_{d} <= output_threshold`` (0.3), 0 (active) otherwise, NaN where
  either is NaN. Both are needed: a head parked on position 0 whose value there is large
  writes a constant vector (``out_ratio`` near 1) and is not dormant, and one spreading
  attention over many tokens writes little without being parked;
* ``active_dormant``: 1 when the head is dormant on at least one domain and active on at
  least one other (both labels defined), else 0.

Each value is a mean over sequences (documents) with a seeded bootstrap standard error over
them (``NAME_se``); a label's error is the standard deviation of the label recomputed from
each resample's means (0 when the label is far from both thresholds), and ``active_dormant``'s
resamples every domain at once. Changes of the labels over training are events
(:mod:`tracker.events.dormant`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from tracker.metric import Metric
from tracker.models import Capture
from tracker.probes.base import ProbeValues
from tracker.probes.chunks import chunk_slices
from tracker.probes.circuits import attn_norm, head_values
from tracker.probes.context import ProbeContext
from tracker.probes.inputs import RepeatedTokensConfig, repeated_random_tokens, repeated_tokens
from tracker.probes.prompts import bos_prefix
from tracker.probes.registry import register_probe
from tracker.probes.sinks import sink_scores, value_norm_ratios
from tracker.probes.text_data import TextProbe, iter_token_docs, resolve_text_dataset
from tracker.probes.uncertainty import (
    BootstrapConfig,
    bootstrap_se,
    resample_indices,
    with_errors,
)

#: Input domains, in the order their metrics are declared.
DOMAINS = ("random", "text", "repeated")
#: Per-domain measurements (name prefix -> description); the label is ``dormant_{domain}``.
MEASURES = {
    "first_mass": "mean attention of queries q >= 1 to position 0",
    "out_ratio": "output norm over the mean norm of one token's write (typical output)",
    "value_ratio": "value norm at position 0 over the mean value norm elsewhere",
}


@dataclass(frozen=True)
class DormantConfig(RepeatedTokensConfig, BootstrapConfig):
    """Config of the active-dormant probe (input fields from :class:`RepeatedTokensConfig`).

    Attributes:
        dataset: Text dataset of the ``text`` domain (resolved by
            :mod:`tracker.probes.text_data`).
        dataset_digest: Content digest of ``dataset`` when it is a path ("" for names).
        text_column: Column holding the text when rows are not pre-tokenized.
        n_docs: Documents of the ``text`` domain.
        prepend_bos: Put BOS in front of each document, so every domain starts with it.
        max_scan: Documents read at most while looking for long enough ones.
        mass_threshold: ``first_mass`` at or above which a head may be dormant.
        output_threshold: ``out_ratio`` at or below which a parked head is dormant.
    """

    dataset: str = "default"
    dataset_digest: str = ""
    text_column: str = "text"
    n_docs: int = 16
    prepend_bos: bool = True
    max_scan: int = 10_000
    mass_threshold: float = 0.8
    output_threshold: float = 0.3


#: What the probe reads of each domain's pass.
_CAPTURE: frozenset[Capture] = frozenset({"patterns", "resid", "value_norms"})


def head_measures(ctx: ProbeContext, tokens: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-sequence measures of every head on ``tokens`` (B, T), each (B, L, H).

    ``first_mass`` and ``value_ratio`` as stored; ``output`` (mean output norm over queries
    ``q >= 1``) and ``typical`` (mean norm of one token's write over keys ``k >= 1``), whose
    ratio across domains gives ``out_ratio``. The pass captures patterns, residual streams
    and value norms (shared with probes declaring the same).
    """
    out = ctx.forward(tokens, _CAPTURE)
    patterns, resid = out.require("patterns"), out.require("resid")
    ratios = []
    for layer in range(ctx.adapter.n_layers):
        values = head_values(ctx, layer, attn_norm(ctx, layer, resid[layer]))  # (H, B, T, dh)
        w_o, _ = ctx.adapter.out_matrix(layer)
        pattern = patterns[layer].float()  # (B, H, T, T)
        per_head = []
        for head in range(values.shape[0]):  # one head at a time bounds the (B, T, D) writes
            v = values[head]
            writes = (v @ w_o[head].float()).norm(dim=-1).double()  # (B, T)
            mixed = (pattern[:, head] @ v) @ w_o[head].float()  # (B, T, D)
            output = mixed.norm(dim=-1).double()[:, 1:].mean(dim=-1)
            per_head.append(torch.stack([output, writes[:, 1:].mean(dim=-1)]))
        ratios.append(torch.stack(per_head))  # (H, 2, B)
    norms = torch.stack(ratios).permute(2, 3, 0, 1).cpu().numpy()  # (2, B, L, H)
    return {
        "first_mass": sink_scores(patterns),
        "output": norms[0],
        "typical": norms[1],
        "value_ratio": value_norm_ratios(out.require("value_norms")),
    }


def dormant_labels(mass: np.ndarray, out_ratio: np.ndarray, cfg: DormantConfig) -> np.ndarray:
    """1.0 where ``mass >= mass_threshold`` and ``out_ratio <= output_threshold``, else 0.0.

    NaN where either input is NaN.
    """
    with np.errstate(invalid="ignore"):
        label = ((mass >= cfg.mass_threshold) & (out_ratio <= cfg.output_threshold)).astype(float)
    return np.where(np.isnan(mass) | np.isnan(out_ratio), np.nan, label)


def active_dormant(labels: list[np.ndarray]) -> np.ndarray:
    """1.0 where some domain's label is dormant and another's is active, else 0.0."""
    stack = np.stack(labels)
    return ((stack == 1.0).any(axis=0) & (stack == 0.0).any(axis=0)).astype(float)


def _nanmean0(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN items (NaN, without a warning, where all are)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


#: Resampled items held at once by the bootstraps of the labels (float64 elements): the
#: draws are labelled a chunk at a time, all draws of a chunk in one array operation.
_CHUNK_ELEMENTS = 1 << 22


@register_probe
class DormantProbe(TextProbe[DormantConfig]):
    """Dormant / active heads per input domain (see the module docstring)."""

    name = "dormant"
    # 2: value_ratio from the pass's own value norms (as attention_sinks 3)
    version = 2
    description = (
        "per head and input domain (random tokens, text, repeated spans): first-token "
        "attention, relative output and value norms, dormant label, active-dormant heads"
    )
    Config = DormantConfig

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Head metrics per domain, the labels, and each one's standard error."""
        cfg = self.config
        out = []
        for domain in DOMAINS:
            out += [
                Metric(name=f"first_mass_{domain}", kind="head", higher_is_mechanism=True,
                       threshold=cfg.mass_threshold,
                       description=f"{domain}: {MEASURES['first_mass']}"),
                # The two norm ratios describe a head; no value of either alone is the
                # mechanism (a diffuse head at initialisation writes little too), so they
                # carry no orientation and the detectors report their moves as changes.
                Metric(name=f"out_ratio_{domain}", kind="head", higher_is_mechanism=None,
                       threshold=cfg.output_threshold,
                       description=f"{domain}: {MEASURES['out_ratio']}"),
                Metric(name=f"value_ratio_{domain}", kind="head", higher_is_mechanism=None,
                       description=f"{domain}: {MEASURES['value_ratio']}"),
                Metric(name=f"dormant_{domain}", kind="head", higher_is_mechanism=True,
                       threshold=0.5, resolution=1.0,
                       description=f"{domain}: 1 dormant (first_mass >= {cfg.mass_threshold} "
                                   f"and out_ratio <= {cfg.output_threshold}), 0 active"),
            ]
        out.append(Metric(name="active_dormant", kind="head", higher_is_mechanism=True,
                          threshold=0.5, resolution=1.0,
                          description="1: dormant on one input domain and active on another"))
        return with_errors(out)

    def _domains(self, ctx: ProbeContext) -> dict[str, torch.Tensor | None]:
        """Return each domain's tokens (None for a text domain without long enough documents)."""
        cfg = self.config
        rep = repeated_tokens(ctx, cfg)
        length = rep.tokens.shape[1]

        def random() -> torch.Tensor:
            tokens, _ = repeated_random_tokens(ctx.adapter, ctx.tokenizer, length - 1, 1,
                                               cfg.n_seqs, cfg.seed + 1)
            return tokens

        def text() -> torch.Tensor | None:
            source = resolve_text_dataset(ctx, cfg.dataset, cfg.dataset_digest)
            prefix = bos_prefix(ctx, cfg.prepend_bos)
            docs: list[list[int]] = []
            for scanned, doc in enumerate(iter_token_docs(source, ctx.tokenizer, cfg.text_column)):
                if len(docs) >= cfg.n_docs or scanned >= cfg.max_scan:
                    break
                if len(prefix + doc) >= length:
                    docs.append((prefix + doc)[:length])
            return torch.tensor(docs, dtype=torch.long) if docs else None

        return {"random": ctx.memo(f"{self.name}:{self.key}:random", random),
                "text": ctx.memo(f"{self.name}:{self.key}:text", text),
                "repeated": rep.tokens}

    def declare(self, ctx: ProbeContext) -> None:
        """Announce the three passes (patterns and residual streams)."""
        for tokens in self._domains(ctx).values():
            if tokens is not None:
                ctx.declare(tokens, _CAPTURE)

    @torch.no_grad()
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Measure every domain, label the heads, and bootstrap the errors."""
        cfg = self.config
        shape = (ctx.adapter.n_layers, ctx.adapter.n_heads)
        per_seq: dict[str, dict[str, np.ndarray]] = {}
        for domain, tokens in self._domains(ctx).items():
            if tokens is None:
                per_seq[domain] = {m: np.full((1, *shape), np.nan)
                                   for m in ("first_mass", "output", "typical", "value_ratio")}
            else:
                per_seq[domain] = head_measures(ctx, tokens)
        typical = _nanmean0(np.stack([_nanmean0(m.pop("typical")) for m in per_seq.values()]))
        with np.errstate(invalid="ignore", divide="ignore"):
            for items in per_seq.values():
                items["out_ratio"] = np.where(typical > 0, items.pop("output") / typical, np.nan)
        values: dict[str, np.ndarray | float] = {}
        labellers: list[Callable[[np.ndarray], np.ndarray]] = []
        labelled: list[np.ndarray] = []
        for domain, items in per_seq.items():
            for measure, rows in items.items():
                values[f"{measure}_{domain}"] = _nanmean0(rows)
                values[f"{measure}_{domain}_se"] = bootstrap_se(rows, cfg)

            def label(idx: np.ndarray, items: dict[str, np.ndarray] = items) -> np.ndarray:
                # idx: (n,) one draw, or (draws, n); the mean is over the draw's items.
                axis = idx.ndim - 1
                return dormant_labels(_nanmean0(items["first_mass"][idx], axis),
                                      _nanmean0(items["out_ratio"][idx], axis), cfg)

            n_items = len(items["first_mass"])
            labels = label(np.arange(n_items))
            values[f"dormant_{domain}"] = labels
            values[f"dormant_{domain}_se"] = _label_se(label, n_items, labels, cfg)
            labellers.append(label)
            labelled.append(labels)
        values["active_dormant"] = active_dormant(labelled)
        sizes = [len(per_seq[d]["first_mass"]) for d in DOMAINS]
        values["active_dormant_se"] = _joint_se(labellers, sizes, cfg, shape)
        return values


def _label_se(label: Callable[[np.ndarray], np.ndarray], n_items: int, labels: np.ndarray,
              cfg: DormantConfig) -> np.ndarray:
    """Return a label's standard deviation over resamples (NaN where undefined, or few items)."""
    if n_items < 2 or cfg.n_bootstrap < 2:
        return np.full(labels.shape, np.nan)
    rows = resample_indices(n_items, cfg)
    draws = np.concatenate([label(rows[part]) for part in
                            chunk_slices(len(rows), n_items * labels.size, _CHUNK_ELEMENTS)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN heads: NaN, as wanted
        return np.where(np.isnan(labels), np.nan, np.nanstd(draws, axis=0, ddof=1))


def _joint_se(labellers: list[Callable[[np.ndarray], np.ndarray]], sizes: list[int],
              cfg: DormantConfig, shape: tuple[int, int]) -> np.ndarray:
    """Return ``active_dormant``'s standard deviation over resamples of every domain at once.

    Draw ``r`` resamples every domain with its row ``r`` of the indices, as one joint draw.
    """
    if cfg.n_bootstrap < 2:
        return np.full(shape, np.nan)
    rows = [resample_indices(n, cfg) for n in sizes]
    chunks = chunk_slices(cfg.n_bootstrap, max(sizes) * shape[0] * shape[1], _CHUNK_ELEMENTS)
    draws = np.concatenate([
        active_dormant([lab(idx[part]) for lab, idx in zip(labellers, rows, strict=True)])
        for part in chunks])
    return draws.std(axis=0, ddof=1)
