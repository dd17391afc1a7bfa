"""Local learning coefficient (LLC) at each checkpoint, estimated with devinterp's SGLD.

The LLC (Lau et al. 2023) measures how degenerate the loss landscape is around the checkpoint's
weights ``w*``: ``llc = n_beta * (E_w[L(w)] - L(w*))``, the expectation over a tempered,
localized posterior ``exp(-n_beta L(w) - localization/2 |w - w*|^2)`` sampled by SGLD. A regular
model with ``d`` parameters has LLC ``d / 2``; degenerate directions lower it. Hoogland et al.
(2024) put developmental stage boundaries at critical points of the LLC curve over training.

Sampling and the estimate are devinterp's (``devinterp.slt.llc.llc``, 2.x; an optional extra:
``pip install 'tracker[devinterp]'``); this module only chooses its inputs and summarises its
output. The data are uniform-length windows of the text dataset (for the organism suite its
training corpus, see :mod:`tracker.probes.text_data`), and every SGLD setting is a config field,
so it is part of the result key.

devinterp's own ``llc_per_chain`` averages the loss over every SGLD step, burn-in included; the
per-chain values here average only the steps after ``num_burnin_steps`` (the same number when
there is no burn-in), so a burn-in does what its name says. Stored per checkpoint:

* ``llc`` / ``llc_std``: mean and standard deviation over chains; ``llc_per_chain`` (vector);
* ``init_loss``: ``L(w*)``; ``trace_first_half`` / ``trace_last_half``: the mean sampled loss
  over the first and last half of the post-burn-in steps, across chains;
* diagnostics: ``llc_settled`` (1 when the two halves' LLCs differ by at most
  ``settle_tolerance`` of the LLC's size, else 0), ``llc_negative`` (chains whose LLC is below 0:
  the sampler found lower loss than ``w*``, so the step size is too large or ``w*`` is not a
  minimum), ``llc_nan_draws`` (non-finite loss entries in the trace: a diverged chain).
"""

from __future__ import annotations

import contextlib
import functools
import math
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tracker.errors import TrackerError
from tracker.metric import Metric
from tracker.probes.base import ProbeConfig, ProbeValues
from tracker.probes.context import ProbeContext
from tracker.probes.registry import register_probe
from tracker.probes.text_data import TextProbe, iter_token_docs, resolve_text_dataset

INSTALL_HINT = "the llc probe needs devinterp 2.x: pip install 'tracker[devinterp]'"

LossFn = Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LLCConfig(ProbeConfig):
    """Config of the LLC probe: data and SGLD settings (all in the result key).

    The SGLD defaults are the setting calibrated on the organism suite with
    ``tracker llc-calibrate`` (README, "Developmental stages"): the traces settle within the
    burn-in from early to final checkpoints, at a few seconds per checkpoint on one thread.
    Other models need their own calibration (devinterp's ``sample`` defaults are 4 chains x
    200 draws at batch 32 with n_beta ``b / ln b``).

    Attributes:
        dataset: Name of the text dataset (resolved by :mod:`tracker.probes.text_data`).
        dataset_digest: Content digest of ``dataset`` when it is a path; "" for names.
        text_column: Column holding the text when the rows are not pre-tokenized.
        n_seqs: Number of token windows SGLD samples minibatches from.
        seq_len: Tokens per window (at most the model's context).
        lr: SGLD step size (devinterp's ``lr``, epsilon).
        n_beta: Inverse temperature; 0 means devinterp's default ``b / ln b`` for batch size b.
        localization: Pull towards the checkpoint's weights (gamma).
        num_chains: Independent SGLD chains.
        num_draws: Draws per chain after burn-in.
        num_burnin_steps: SGLD steps discarded before the draws.
        batch_size: SGLD minibatch size b.
        seed: devinterp's ``init_seed``.
        settle_tolerance: Relative gap between the two halves' LLCs still counted as settled.
    """

    dataset: str = "default"
    dataset_digest: str = ""
    text_column: str = "text"
    n_seqs: int = 512
    seq_len: int = 64
    lr: float = 3e-3
    n_beta: float = 30.0
    localization: float = 100.0
    num_chains: int = 2
    num_draws: int = 40
    num_burnin_steps: int = 10
    batch_size: int = 16
    seed: int = 100
    settle_tolerance: float = 0.1


@dataclass(frozen=True)
class LLCEstimate:
    """What one LLC estimation returns (see the module docstring for each field)."""

    llc: float
    llc_std: float
    llc_per_chain: np.ndarray
    init_loss: float
    trace_first_half: float
    trace_last_half: float
    settled: bool
    negative_chains: int
    nan_draws: int
    loss_trace: np.ndarray


def devinterp_available() -> bool:
    """Whether devinterp (2.x) can be imported."""
    try:
        import devinterp.slt.llc  # noqa: F401
    except ImportError:
        return False
    return True


def default_n_beta(batch_size: int) -> float:
    """Return ``b / ln b``, devinterp's default inverse temperature (WBIC's ``1 / ln n``, n = b)."""
    return batch_size / math.log(batch_size) if batch_size > 1 else 1.0


def estimate_llc(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    cfg: LLCConfig,
    *,
    loss_fn: LossFn | None = None,
    device: str | None = None,
) -> LLCEstimate:
    """Estimate the LLC of ``model`` at its current weights through devinterp.

    Args:
        model: The model (not modified: devinterp samples on copies).
        input_ids: (N, T) token windows, ``T >= 2``.
        cfg: SGLD settings.
        loss_fn: Per-token loss ``(model, input_ids) -> (batch, T - 1)``; None for next-token
            cross entropy on the model's logits (devinterp's default).
        device: Device to sample on; None for the model's.

    Returns:
        The estimate and its diagnostics.

    Raises:
        TrackerError: devinterp is not installed.
    """
    try:
        from datasets import Dataset
        from devinterp.slt.llc import llc as devinterp_llc
    except ImportError as exc:
        raise TrackerError(INSTALL_HINT) from exc
    if device is None:
        device = str(next(model.parameters()).device)
    data = Dataset.from_dict({"input_ids": input_ids.cpu().tolist()}).with_format("torch")
    n_beta = cfg.n_beta if cfg.n_beta > 0 else default_n_beta(cfg.batch_size)
    # devinterp writes its draws to a zarr store and, without output_path, leaves it in a
    # fresh temp folder for good; ours is read into memory and removed
    with tempfile.TemporaryDirectory(prefix="tracker-llc-") as tmp, _quiet_chains():
        out = devinterp_llc(
            model, data, {}, lr=cfg.lr, n_beta=n_beta, loss_fn=loss_fn,
            num_chains=cfg.num_chains, num_draws=cfg.num_draws,
            num_burnin_steps=cfg.num_burnin_steps, batch_size=cfg.batch_size,
            localization=cfg.localization, init_seed=cfg.seed, device=device,
            # a pass over at most the data there is (devinterp's default is 32 batches)
            num_init_loss_batches=max(1, min(32, len(data) // cfg.batch_size)),
            output_path=Path(tmp) / "samples.zarr",
        )
        trace = np.asarray(out["loss_trace"].values, dtype=np.float64)
        init_loss = float(out["init_loss"])
    return summarise(trace, init_loss, n_beta, cfg)


@contextlib.contextmanager
def _quiet_chains() -> Iterator[None]:
    """Silence devinterp's per-chain progress bars while sampling.

    Its sampler calls ``tqdm.auto.trange`` (a bar per chain and checkpoint, whatever the
    sweep's ``--no-progress`` says) with no way to turn it off, and tqdm reads
    ``TQDM_DISABLE`` only at import. The sweep's own bar shows progress.
    """
    try:
        from devinterp.slt import sampler
    except ImportError:  # pragma: no cover - the caller imported devinterp already
        yield
        return
    loud = getattr(sampler, "trange", None)
    if loud is None:  # a devinterp without it: nothing to silence
        yield
        return
    sampler.trange = functools.partial(loud, disable=True)
    try:
        yield
    finally:
        sampler.trange = loud


def summarise(trace: np.ndarray, init_loss: float, n_beta: float, cfg: LLCConfig) -> LLCEstimate:
    """Turn devinterp's (chain, step) loss trace into the stored estimate and diagnostics.

    Args:
        trace: Mean sampled loss per chain and SGLD step, burn-in included.
        init_loss: Loss at the checkpoint's weights.
        n_beta: Inverse temperature the trace was sampled at.
        cfg: The settings (for the burn-in and the settling tolerance).

    Returns:
        The estimate; NaN entries are counted, and left out of the means.
    """
    kept = trace[:, cfg.num_burnin_steps:]
    finite = np.isfinite(kept)
    nan_draws = int((~finite).sum())
    kept = np.where(finite, kept, np.nan)  # an overflowed (inf) draw is a diverged one too
    with warnings.catch_warnings():
        # a diverged chain is all NaN (devinterp stops it and leaves the rest unwritten);
        # it is counted above, and its means are NaN without numpy's warnings
        warnings.simplefilter("ignore", RuntimeWarning)
        per_chain = n_beta * (np.nanmean(kept, axis=1) - init_loss)
        half = kept.shape[1] // 2
        first = float(np.nanmean(kept[:, :half])) if half else float("nan")
        last = float(np.nanmean(kept[:, half:]))
        llc = float(np.nanmean(per_chain))
        llc_std = float(np.nanstd(per_chain))
    gap = n_beta * abs(last - first)
    settled = bool(np.isfinite(gap) and gap <= cfg.settle_tolerance * max(abs(llc), 1e-12))
    return LLCEstimate(
        llc=llc, llc_std=llc_std, llc_per_chain=per_chain,
        init_loss=init_loss, trace_first_half=first, trace_last_half=last, settled=settled,
        negative_chains=int((per_chain < 0).sum()), nan_draws=nan_draws, loss_trace=trace,
    )


@register_probe
class LLCProbe(TextProbe[LLCConfig]):
    """Local learning coefficient of the checkpoint on the text dataset, by SGLD (devinterp)."""

    name = "llc"
    version = 1
    description = (
        "local learning coefficient (SGLD through devinterp) on windows of a text dataset, "
        "with per-chain values and trace diagnostics"
    )
    Config = LLCConfig
    in_default_sweep = False  # seconds of SGLD per checkpoint: run it by name


    def has_data(self) -> bool:
        """Whether devinterp is installed and the dataset is registered or exists on disk."""
        return devinterp_available() and super().has_data()

    def lacking_note(self) -> str:
        """Give the install line when devinterp is missing, else the missing dataset."""
        return INSTALL_HINT if not devinterp_available() else super().lacking_note()

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Model-level LLC, its spread over chains, and the trace diagnostics."""
        none: dict[str, Any] = {"higher_is_mechanism": None}
        return [
            Metric(name="llc", kind="scalar", description="LLC, mean over SGLD chains", **none),
            Metric(name="llc_std", kind="scalar", description="LLC std over chains", **none),
            Metric(name="llc_per_chain", kind="vector", description="LLC of each chain",
                   shape=(self.config.num_chains,), **none),
            Metric(name="init_loss", kind="scalar", description="loss at the checkpoint",
                   **none),
            Metric(name="trace_first_half", kind="scalar",
                   description="mean sampled loss, first half of the draws", **none),
            Metric(name="trace_last_half", kind="scalar",
                   description="mean sampled loss, last half of the draws", **none),
            Metric(name="llc_settled", kind="scalar",
                   description="1 if the two halves' LLCs agree within tolerance", **none),
            Metric(name="llc_negative", kind="scalar",
                   description="chains with a negative LLC", **none),
            Metric(name="llc_nan_draws", kind="scalar",
                   description="non-finite loss entries in the trace", **none),
        ]

    def windows(self, ctx: ProbeContext) -> torch.Tensor | None:
        """Return the (n_seqs, seq_len) token windows SGLD samples from; None if too few."""

        def build() -> torch.Tensor | None:
            cfg = self.config
            length = min(cfg.seq_len, ctx.adapter.n_ctx)
            source = resolve_text_dataset(ctx, cfg.dataset, cfg.dataset_digest)
            rows: list[list[int]] = []
            for doc in iter_token_docs(source, ctx.tokenizer, cfg.text_column):
                # consecutive windows of each document: devinterp needs one uniform length
                rows.extend(doc[i : i + length] for i in range(0, len(doc) - length + 1, length))
                if len(rows) >= cfg.n_seqs:
                    break
            rows = rows[: cfg.n_seqs]
            return torch.tensor(rows, dtype=torch.long) if len(rows) >= cfg.batch_size else None

        return ctx.memo(f"{self.name}:{self.key}", build)

    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Sample and summarise the LLC of the checkpoint."""
        windows = self.windows(ctx)
        if windows is None:
            return self.missing(ctx, llc_nan_draws=0.0)
        est = estimate_llc(ctx.model, windows, self.config, device=str(ctx.device))
        return {
            "llc": est.llc, "llc_std": est.llc_std, "llc_per_chain": est.llc_per_chain,
            "init_loss": est.init_loss, "trace_first_half": est.trace_first_half,
            "trace_last_half": est.trace_last_half, "llc_settled": float(est.settled),
            "llc_negative": float(est.negative_chains), "llc_nan_draws": float(est.nan_draws),
        }
