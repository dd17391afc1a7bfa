"""Successor heads (Gould et al. 2023): heads whose OV circuit maps a token to its successor.

Tasks come from ``data/tasks/succession.json`` (numbers, number words, ordinals, days,
months, their prefixes, letters, roman numerals). Each word is used with a leading space and
only words that are single tokens in the model's tokenizer are kept; a pair
``(word, successor)`` is kept when both are (cyclic tasks wrap the last word to the first).

For head ``h`` of layer ``l`` and each kept word ``t`` (all in fp32, whatever the model dtype):

1. Input: for ``l = 0`` the token embedding ``W_E[t]`` (what layer-0 attention reads); for
   ``l >= 1`` the *effective embedding* chosen by ``effective_embedding``:

   * ``"embed"``: ``W_E[t]``;
   * ``"mlp0"`` (default): ``W_E[t] + MLP0(LN_mlp0(W_E[t]))``, the first MLP as the model
     computes it, with its own norm (exact for GPT-NeoX's parallel residual when attention
     is ignored; for sequential blocks it ignores attention 0's input to the MLP);
   * ``"attn_mlp0"``: also adds attention 0's output when every token attends only to itself,
     ``a0 = sum_h (LN_attn0(W_E[t]) W_V[h] + b_V[h]) W_O[h] + b_O`` (through the norm after
     attention where the architecture has one, OLMo 2), and, for sequential blocks, feeds
     ``W_E[t] + a0`` to the MLP: then the effective embedding is exactly the stream after
     block 0 of a one-token input (without GPT-2's position embedding).

   The MLP runs in the model's dtype, as in the model; everything after it runs in fp32.
2. OV: ``o = LN_l(input) W_V[h] W_O[h]`` with the head's own input norm; ``b_V[h] W_O[h]`` (the
   same for every input) is left out as TransformerLens and Gould et al. do, unless
   ``ov_value_bias`` is set.
3. Logits: the final norm applied to ``o`` (minus its bias), then ``W_U`` restricted to the
   task's kept tokens.

The pair succeeds when the successor's logit is strictly higher than every other token of
the task (the input word included); ties count as failures, so rounding cannot inflate the
score. ``succession_score`` is the success rate pooled over all kept pairs of all tasks; the
pool is dominated by the tasks with most pairs (numbers), so the per-task table is stored
too, one head metric per task, ``succession_{task}`` (e.g. ``succession_months``): the
store's kinds hold (layers, heads) per step, and a metric per task keeps each one
self-describing (its chance level ``1/n`` over the task's ``n`` kept tokens, its resolution
``1/pairs``). Standard errors (``NAME_se``) are bootstraps over the pairs; the best head's
per task is that head's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import torch

from tracker.metric import Metric
from tracker.probes.base import Probe, ProbeValues
from tracker.probes.circuits import attn_norm, direct_logits, fp32_call, head_ov, head_values
from tracker.probes.context import ProbeContext
from tracker.probes.prompts import as_tuple, load_task_file, word_token
from tracker.probes.ranking import strictly_first
from tracker.probes.registry import register_probe
from tracker.probes.uncertainty import BootstrapConfig, bootstrap_se

SUCCESSION_TASKS = (
    "numbers", "number_words", "ordinal_words", "days", "day_prefixes", "months",
    "month_prefixes", "letters", "roman_numerals",
)
EffectiveEmbedding = Literal["embed", "mlp0", "attn_mlp0"]
EFFECTIVE_EMBEDDINGS: tuple[str, ...] = get_args(EffectiveEmbedding)


@dataclass(frozen=True)
class SuccessorHeadsConfig(BootstrapConfig):
    """Config of the successor-heads probe.

    Attributes:
        tasks_file: Task file, relative to the data directory (or absolute).
        tasks: Task names, in the order of the vector metrics.
        effective_embedding: ``"embed"``, ``"mlp0"`` or ``"attn_mlp0"`` (module docstring).
        threshold: Succession score above which a head counts as a successor head.
        ov_value_bias: Include ``b_V W_O`` in each head's OV output (excluded by default).
    """

    tasks_file: str = "tasks/succession.json"
    tasks: tuple[str, ...] = SUCCESSION_TASKS
    effective_embedding: EffectiveEmbedding = "mlp0"
    threshold: float = 0.5
    ov_value_bias: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", as_tuple(self.tasks))
        if self.effective_embedding not in EFFECTIVE_EMBEDDINGS:
            raise ValueError(
                f"effective_embedding must be one of {EFFECTIVE_EMBEDDINGS}, "
                f"got {self.effective_embedding!r}"
            )


@dataclass
class SuccessionPairs:
    """A task's kept tokens and successor pairs.

    Attributes:
        name: Task name.
        ids: Kept token ids, in the task's order (the candidates of the comparison).
        pairs: ``(i, j)`` indices into ``ids``: word ``ids[i]`` has successor ``ids[j]``.
    """

    name: str
    ids: list[int] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)


def succession_tasks(
    tokenizer: Any, data: Mapping[str, Any], names: tuple[str, ...]
) -> list[SuccessionPairs]:
    """Build each named task's kept tokens and pairs from a succession task file."""
    tasks = []
    for name in names:
        spec = data["tasks"][name]
        items, cyclic = list(spec["items"]), bool(spec.get("cyclic", False))
        tokens = [word_token(tokenizer, " " + word) for word in items]
        task = SuccessionPairs(name)
        index: dict[int, int] = {}
        for token in tokens:
            if token is not None and token not in index:
                index[token] = len(task.ids)
                task.ids.append(token)
        n = len(items)
        for k in range(n if cyclic and n > 1 else n - 1):
            a, b = tokens[k], tokens[(k + 1) % n]
            if a is not None and b is not None and a != b:
                task.pairs.append((index[a], index[b]))
        tasks.append(task)
    return tasks


def effective_embedding(
    ctx: ProbeContext, ids: torch.Tensor, variant: EffectiveEmbedding
) -> torch.Tensor:
    """Effective embeddings (N, D) fp32 of token ids (see the module docstring)."""
    adapter = ctx.adapter
    w_e = adapter.embed_matrix()[ids.to(adapter.device)]
    out = w_e.float()
    if variant == "embed":
        return out
    mlp_in = w_e
    if variant == "attn_mlp0":
        # Each head's value of its own token, through the architecture's attention output
        # (the sum of heads plus bias, or OLMo 2's norm of it), in fp32.
        z = head_values(ctx, 0, attn_norm(ctx, 0, w_e)).transpose(0, 1)  # (N, H, d_head)
        attn = fp32_call(ctx.model, adapter.attn_output, 0, z)
        out = out + attn
        if not adapter.parallel_residual:
            mlp_in = out.to(w_e.dtype)
    return out + adapter.mlp(0, adapter.mlp_norm(0, mlp_in)).float()


def succession_successes(
    ctx: ProbeContext, tasks: list[SuccessionPairs], variant: EffectiveEmbedding,
    value_bias: bool = False,
) -> list[np.ndarray]:
    """Per task, whether each pair succeeds for each head: (pairs, layers, heads) 0/1 arrays."""
    adapter = ctx.adapter
    vocab = sorted({t for task in tasks for t in task.ids})
    result = [np.zeros((len(t.pairs), adapter.n_layers, adapter.n_heads)) for t in tasks]
    if not vocab:
        return result
    ids = torch.tensor(vocab, dtype=torch.long, device=adapter.device)
    where = {t: i for i, t in enumerate(vocab)}
    raw = adapter.embed_matrix()[ids].float()
    eff = effective_embedding(ctx, ids, variant)
    for layer in range(adapter.n_layers):
        normed = attn_norm(ctx, layer, raw if layer == 0 else eff)
        logits = direct_logits(ctx, head_ov(ctx, layer, normed, value_bias), ids)  # (H, N, N)
        for k, task in enumerate(tasks):
            if not task.pairs:
                continue
            cols = torch.tensor([where[t] for t in task.ids], device=logits.device)
            sub = logits[:, cols][:, :, cols]  # (H, n, n): input word x candidate word
            rows = torch.tensor([i for i, _ in task.pairs], device=logits.device)
            targets = torch.tensor([j for _, j in task.pairs], device=logits.device)
            picked = sub[:, rows]  # (H, P, n)
            wins = strictly_first(picked, targets)  # (H, P)
            result[k][:, layer, :] = wins.T.double().cpu().numpy()
    return result


@register_probe
class SuccessorHeadsProbe(Probe[SuccessorHeadsConfig]):
    """Per-head succession score from the effective OV circuit (see the module docstring)."""

    name = "successor_heads"
    version = 2
    description = (
        "fraction of successor pairs (numbers, days, months, letters, ...) whose successor each "
        "head's effective OV circuit ranks first among the task's tokens"
    )
    Config = SuccessorHeadsConfig

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Pooled head score, one head score per task, per-task vectors; standard errors."""
        order = ", ".join(self.config.tasks)
        tasks = self._tasks(ctx)
        pairs = [len(t.pairs) for t in tasks]
        total = sum(pairs)
        chance = [1.0 / len(t.ids) if t.ids else None for t in tasks]
        pooled = (sum(p * c for p, c in zip(pairs, chance, strict=True) if c is not None) / total
                  if total else None)
        score = Metric(name="succession_score", kind="head",
                       description="fraction of kept successor pairs the head's "
                                   "effective OV circuit gets right, pooled over tasks",
                       higher_is_mechanism=True, threshold=self.config.threshold,
                       resolution=1.0 / total if total else None, chance=pooled)
        out = [score, score.standard_error()]
        for task, n, c in zip(tasks, pairs, chance, strict=True):
            metric = Metric(name=f"succession_{task.name}", kind="head",
                            description=f"fraction of the {n} kept {task.name} successor "
                                        f"pairs the head's effective OV circuit gets right",
                            higher_is_mechanism=True, threshold=self.config.threshold,
                            resolution=1.0 / n if n else None, chance=c)
            out += [metric, metric.standard_error()]
        best = Metric(name="succession_task_best", kind="vector",
                      description=f"best head's success rate per task "
                                  f"({order}); NaN for tasks with no pairs",
                      higher_is_mechanism=True, shape=(len(self.config.tasks),))
        return [*out, Metric(name="succession_pairs", kind="vector",
                             description=f"successor pairs kept per task ({order})",
                             higher_is_mechanism=None, shape=(len(self.config.tasks),)),
                best, best.standard_error()]

    def _tasks(self, ctx: ProbeContext) -> list[SuccessionPairs]:
        cfg = self.config
        return ctx.memo(f"{self.name}:{self.key}", lambda: succession_tasks(
            ctx.tokenizer, load_task_file(cfg.tasks_file), cfg.tasks))

    @torch.no_grad()
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Score every head (weights only; no forward pass)."""
        cfg = self.config
        tasks = self._tasks(ctx)
        wins = succession_successes(ctx, tasks, cfg.effective_embedding, cfg.ov_value_bias)
        shape = ctx.adapter.n_layers, ctx.adapter.n_heads
        pooled = np.concatenate(wins, axis=0)
        out: dict[str, np.ndarray | float] = {
            "succession_score": pooled.mean(axis=0) if len(pooled) else np.full(shape, np.nan),
            "succession_score_se": bootstrap_se(pooled, cfg),
            "succession_pairs": np.array([len(t.pairs) for t in tasks], dtype=np.float64),
        }
        best = np.full(len(tasks), np.nan)
        best_se = np.full(len(tasks), np.nan)
        for k, (task, task_wins) in enumerate(zip(tasks, wins, strict=True)):
            rate = task_wins.mean(axis=0) if len(task_wins) else np.full(shape, np.nan)
            se = bootstrap_se(task_wins, cfg)
            out[f"succession_{task.name}"], out[f"succession_{task.name}_se"] = rate, se
            if len(task_wins):
                top = np.unravel_index(int(np.argmax(rate)), shape)
                best[k], best_se[k] = rate[top], se[top]
        out["succession_task_best"], out["succession_task_best_se"] = best, best_se
        return out
