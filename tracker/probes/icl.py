"""In-context-learning score (Olsson et al. 2022): late-context loss minus early-context loss.

Documents come from a text dataset named by the config (see :mod:`tracker.probes.text_data`
for how a name is resolved: a source supplied in ``ctx.scratch``, a registered factory, or a
path on disk). The first ``n_docs`` documents long enough to reach the end of the late window
(after an optional BOS) are cut there and run in one forward pass.

With ``loss_i = -log p(token_i | tokens_<i)`` (0-based token index ``i >= 1``), and the early
and late *windows* the token indices within ``early_window`` / ``late_window`` of the early
and late positions (a difference of two single-position losses is noisy; windows average it):

* ``icl_score = mean_docs(late-window loss) - mean_docs(early-window loss)``; negative when
  the model predicts better with more context (more negative = more in-context learning);
* ``early_loss`` / ``late_loss``: those two means; ``mean_loss``: mean over all tokens read;
* ``icl_n_docs``: documents used (0 gives NaN losses).

Each loss metric's standard error (``NAME_se``) is a bootstrap over the documents (the
difference is resampled per document, so the two windows' correlation is kept).

Positions default to Olsson et al.'s 50 and 500 for a 2048-token context, windows to +-10
and +-50 tokens. For models with a shorter context ``n_ctx`` positions and windows scale by
``n_ctx / reference_context`` (positions rounded, at least 1 and 2, early < late <= n_ctx - 1;
windows clipped to tokens 1..n_ctx - 1 and kept apart); longer contexts keep them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tracker.metric import Metric
from tracker.probes.base import ProbeValues
from tracker.probes.context import ProbeContext
from tracker.probes.prompts import bos_prefix
from tracker.probes.registry import register_probe
from tracker.probes.text_data import TextProbe, iter_token_docs, resolve_text_dataset
from tracker.probes.uncertainty import BootstrapConfig, bootstrap_se, with_errors


@dataclass(frozen=True)
class ICLConfig(BootstrapConfig):
    """Config of the in-context-learning probe.

    Attributes:
        dataset: Name of the text dataset (resolved by :mod:`tracker.probes.text_data`).
        dataset_digest: Content digest of ``dataset`` when it is a path (set by
            :meth:`ICLProbe.with_text`), so the result key follows the data; "" for names.
        text_column: Column holding the text when the rows are not pre-tokenized.
        n_docs: Number of documents.
        early_pos: Early token index for a ``reference_context``-token model.
        late_pos: Late token index for a ``reference_context``-token model.
        early_window: Half-width of the early window, in ``reference_context`` tokens.
        late_window: Half-width of the late window, in ``reference_context`` tokens.
        reference_context: Context length the positions are given for.
        prepend_bos: Put BOS in front of each document (counts as position 0).
        max_scan: Documents read at most while looking for long enough ones.
    """

    dataset: str = "default"
    dataset_digest: str = ""
    text_column: str = "text"
    n_docs: int = 256
    early_pos: int = 50
    late_pos: int = 500
    early_window: int = 10
    late_window: int = 50
    reference_context: int = 2048
    prepend_bos: bool = False
    max_scan: int = 10_000


def scaled_positions(cfg: ICLConfig, n_ctx: int) -> tuple[int, int]:
    """Return the (early, late) token indices used for a model with context ``n_ctx``."""
    early, late = cfg.early_pos, cfg.late_pos
    if n_ctx < cfg.reference_context:
        scale = n_ctx / cfg.reference_context
        early, late = max(1, round(early * scale)), max(2, round(late * scale))
    late = min(late, n_ctx - 1)
    early = min(early, late - 1)
    if early < 1:
        raise ValueError(f"context of {n_ctx} tokens is too short for the ICL score")
    return early, late


def windows(cfg: ICLConfig, n_ctx: int) -> tuple[range, range]:
    """Return the early and late windows of token indices for a model with context ``n_ctx``.

    Both lie in ``1..n_ctx - 1``; the early window ends before the late one starts.
    """
    early, late = scaled_positions(cfg, n_ctx)
    scale = min(1.0, n_ctx / cfg.reference_context)
    half_e, half_l = round(cfg.early_window * scale), round(cfg.late_window * scale)
    late_lo, late_hi = max(early + 1, late - half_l), min(n_ctx - 1, late + half_l)
    early_lo, early_hi = max(1, early - half_e), min(late_lo - 1, early + half_e)
    return range(early_lo, early_hi + 1), range(late_lo, late_hi + 1)


def token_losses(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Per-token losses (N, T-1) in fp32: entry ``i - 1`` is the loss of token ``i``."""
    rows = []
    for row in range(tokens.shape[0]):  # one row at a time bounds the fp32 log-softmax memory
        logp = torch.log_softmax(logits[row, :-1].float(), dim=-1)
        target = tokens[row, 1:].to(logp.device)
        rows.append(-logp.gather(-1, target[:, None])[:, 0])
    return torch.stack(rows)


@register_probe
class ICLProbe(TextProbe[ICLConfig]):
    """Loss at a late context position minus loss at an early one, and the mean loss."""

    name = "icl"
    version = 2
    description = (
        "in-context-learning score: loss in a window of late context positions minus loss in "
        "a window of early ones, on a text dataset"
    )
    Config = ICLConfig

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Model-level scalars, each loss with its standard error."""
        early, late = windows(self.config, ctx.adapter.n_ctx)
        e_txt = f"tokens {early.start}-{early.stop - 1}"
        l_txt = f"tokens {late.start}-{late.stop - 1}"
        return with_errors([
            Metric(name="icl_score", kind="scalar",
                   description=f"mean loss at {l_txt} minus mean loss at {e_txt}",
                   higher_is_mechanism=False, chance=0.0),
            Metric(name="early_loss", kind="scalar",
                   description=f"mean loss at {e_txt}",
                   higher_is_mechanism=None),
            Metric(name="late_loss", kind="scalar",
                   description=f"mean loss at {l_txt}",
                   higher_is_mechanism=None),
            Metric(name="mean_loss", kind="scalar",
                   description=f"mean loss over tokens 1..{late.stop - 1}",
                   higher_is_mechanism=None),
            Metric(name="icl_n_docs", kind="scalar",
                   description="documents used",
                   higher_is_mechanism=None),
        ], skip=("icl_n_docs",))

    def _tokens(self, ctx: ProbeContext) -> torch.Tensor | None:
        def build() -> torch.Tensor | None:
            cfg = self.config
            last = windows(cfg, ctx.adapter.n_ctx)[1].stop - 1
            source = resolve_text_dataset(ctx, cfg.dataset, cfg.dataset_digest)
            prefix = bos_prefix(ctx, cfg.prepend_bos)
            docs: list[list[int]] = []
            for scanned, doc in enumerate(iter_token_docs(source, ctx.tokenizer, cfg.text_column)):
                if len(docs) >= cfg.n_docs or scanned >= cfg.max_scan:
                    break
                doc = prefix + doc
                if len(doc) >= last + 1:
                    docs.append(doc[: last + 1])
            return torch.tensor(docs, dtype=torch.long) if docs else None

        return ctx.memo(f"{self.name}:{self.key}", build)

    def declare(self, ctx: ProbeContext) -> None:
        """Announce the forward pass over the documents (logits only)."""
        tokens = self._tokens(ctx)
        if tokens is not None:
            ctx.declare(tokens, {"logits"})

    @torch.no_grad()
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Measure the losses."""
        tokens = self._tokens(ctx)
        if tokens is None:
            return self.missing(ctx, icl_n_docs=0.0)
        cfg = self.config
        early, late = windows(cfg, ctx.adapter.n_ctx)
        losses = token_losses(ctx.forward(tokens, {"logits"}).require("logits"), tokens).double()
        per_doc = losses.cpu().numpy()  # (docs, T - 1): column i - 1 is token i
        early_docs = per_doc[:, early.start - 1 : early.stop - 1].mean(axis=1)
        late_docs = per_doc[:, late.start - 1 : late.stop - 1].mean(axis=1)
        values = {"icl_score": late_docs - early_docs, "early_loss": early_docs,
                  "late_loss": late_docs, "mean_loss": per_doc.mean(axis=1)}
        out: dict[str, np.ndarray | float] = {"icl_n_docs": float(tokens.shape[0])}
        for name, docs in values.items():
            out[name] = float(docs.mean())
            out[f"{name}_se"] = float(bootstrap_se(docs, cfg))
        return out
