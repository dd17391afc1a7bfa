"""Successor task in running text: " Monday Tuesday Wednesday" -> " Thursday".

Prompts come from ``data/tasks/succession.json``: for each task, runs of ``n_context``
consecutive items (cyclic tasks wrap) placed in one of the file's ``text_templates`` (its
``{SEQ}`` becomes the items, each a word with a leading space); the answer is the next item.
A prompt is kept only if all its items and the answer are single tokens; at most
``max_prompts_per_task`` start positions are drawn per task with a fixed seed. Each prompt
has a corrupted twin in which every context item but the last is replaced by a different
random item of the task: a model that only maps the last item to its successor (a successor
head) still answers it, one that reads the sequence may not.

Metrics, read at each prompt's last token (one forward pass, right-padded):

* ``successor_text_accuracy``: fraction of prompts whose answer has a strictly higher logit
  than every other kept token of its task, pooled over tasks;
* ``successor_text_top1``: fraction whose answer beats every other token of the vocabulary;
* ``successor_text_corrupted_accuracy``: the task-restricted accuracy on corrupted prompts;
* ``successor_text_task_accuracy`` (vector, task order of the config; NaN without prompts);
* ``successor_text_n_prompts`` (vector): prompts kept per task.

Standard errors (``NAME_se``) are a seeded bootstrap over the prompts of the one pass (per task
over that task's prompts for the vector). The pooled accuracies move in steps of ``1/n`` over
``n`` kept prompts; the task-restricted ones have chance level ``mean over prompts of 1/k``
with ``k`` the prompt's task size (kept tokens), the pick of a model with no preference among
them. ``successor_text_top1`` has no chance level (a model's prior over the whole vocabulary
is far from uniform); the per-task vector keeps none either (a record holds one scalar, and
each task's is ``1/k``, see ``successor_heads``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from tracker.metric import Metric
from tracker.probes.base import ProbeValues
from tracker.probes.context import ProbeContext
from tracker.probes.prompts import (
    PromptProbe,
    as_tuple,
    bos_prefix,
    last_logits,
    load_task_file,
    render,
    word_token,
)
from tracker.probes.ranking import strictly_first
from tracker.probes.registry import register_probe
from tracker.probes.successor_heads import SUCCESSION_TASKS, succession_tasks
from tracker.probes.uncertainty import BootstrapConfig, bootstrap_se, with_errors


@dataclass(frozen=True)
class SuccessorTextConfig(BootstrapConfig):
    """Config of the successor-in-text probe.

    Attributes:
        tasks_file: Task file, relative to the data directory (or absolute).
        tasks: Task names, in the order of the vector metrics.
        n_context: Items shown before the answer.
        max_prompts_per_task: Start positions drawn per task at most.
        seed: Seed of the draws.
        prepend_bos: Put BOS in front of each prompt.
    """

    tasks_file: str = "tasks/succession.json"
    tasks: tuple[str, ...] = SUCCESSION_TASKS
    n_context: int = 3
    max_prompts_per_task: int = 16
    seed: int = 0
    prepend_bos: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", as_tuple(self.tasks))


@dataclass
class SuccessorTextPrompts:
    """Kept prompts as token ids, their answers, tasks and the tasks' candidate tokens."""

    clean: list[list[int]] = field(default_factory=list)
    corrupted: list[list[int]] = field(default_factory=list)
    answer: list[int] = field(default_factory=list)
    task: list[int] = field(default_factory=list)
    candidates: list[list[int]] = field(default_factory=list)


def successor_text_prompts(
    tokenizer: Any, data: Mapping[str, Any], cfg: SuccessorTextConfig, prefix: list[int]
) -> SuccessorTextPrompts:
    """Build the prompts of every task (module docstring)."""
    out = SuccessorTextPrompts()
    if tokenizer is None:
        out.candidates = [[] for _ in cfg.tasks]
        return out
    rng = random.Random(cfg.seed)
    templates = list(data.get("text_templates", ["{SEQ}"]))
    tasks = succession_tasks(tokenizer, data, cfg.tasks)
    out.candidates = [task.ids for task in tasks]
    k = cfg.n_context
    for t_index, name in enumerate(cfg.tasks):
        spec = data["tasks"][name]
        items, cyclic = list(spec["items"]), bool(spec.get("cyclic", False))
        n = len(items)
        ok = [word_token(tokenizer, " " + w) is not None for w in items]
        usable = [w for w, good in zip(items, ok, strict=True) if good]
        starts = [
            i for i in range(n if cyclic else n - k)
            if k < n and all(ok[(i + j) % n] for j in range(k + 1))
        ]
        for i in sorted(rng.sample(starts, min(len(starts), cfg.max_prompts_per_task))):
            seq = [items[(i + j) % n] for j in range(k)]
            answer = items[(i + k) % n]
            noisy = [rng.choice([w for w in usable if w != seq[j]] or [seq[j]])
                     for j in range(k - 1)] + seq[-1:]
            template = rng.choice(templates)
            clean = render(tokenizer, template, {"SEQ": seq})
            corrupted = render(tokenizer, template, {"SEQ": noisy})
            answer_id = word_token(tokenizer, " " + answer)
            if clean is None or corrupted is None or answer_id is None:
                continue
            out.clean.append(prefix + clean)
            out.corrupted.append(prefix + corrupted)
            out.answer.append(answer_id)
            out.task.append(t_index)
    return out



@register_probe
class SuccessorTextProbe(PromptProbe[SuccessorTextConfig]):
    """Accuracy on "Monday Tuesday Wednesday -> Thursday" prompts (see the module docstring)."""

    name = "successor_text"
    version = 3
    description = "successor task accuracy in running text (days, months, numbers, letters, ...)"
    Config = SuccessorTextConfig

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Scalars plus per-task vectors (in ``config.tasks`` order), with standard errors."""
        order = ", ".join(self.config.tasks)
        prompts = self.prompt_batch(ctx)[0]
        n = len(prompts.clean)
        resolution = 1.0 / n if n else None
        sizes = [len(prompts.candidates[t]) for t in prompts.task]
        chance = float(np.mean([1.0 / k for k in sizes])) if n and min(sizes) else None
        return with_errors([
            Metric(name="successor_text_accuracy", kind="scalar",
                   description="fraction of prompts whose next item beats the task's other tokens",
                   higher_is_mechanism=True, resolution=resolution, chance=chance),
            Metric(name="successor_text_top1", kind="scalar",
                   description="fraction whose next item is the top token of the vocabulary",
                   higher_is_mechanism=True, resolution=resolution),
            Metric(name="successor_text_corrupted_accuracy", kind="scalar",
                   description="accuracy with all context items but the last replaced at random",
                   higher_is_mechanism=None, resolution=resolution, chance=chance),
            Metric(name="successor_text_task_accuracy", kind="vector",
                   description=f"accuracy per task ({order})",
                   higher_is_mechanism=True, shape=(len(self.config.tasks),)),
            Metric(name="successor_text_n_prompts", kind="vector",
                   description=f"prompts kept per task ({order})",
                   higher_is_mechanism=None, shape=(len(self.config.tasks),)),
        ], skip=("successor_text_n_prompts",))

    def build_prompts(self, ctx: ProbeContext) -> SuccessorTextPrompts:
        """Running-text succession prompts and their corrupted twins for this tokenizer."""
        cfg = self.config
        return successor_text_prompts(ctx.tokenizer, load_task_file(cfg.tasks_file), cfg,
                                      bos_prefix(ctx, cfg.prepend_bos))

    @torch.no_grad()
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Measure the accuracies."""
        prompts, tokens, last = self.prompt_batch(ctx)
        n_tasks = len(self.config.tasks)
        counts = np.bincount(np.array(prompts.task, dtype=np.int64), minlength=n_tasks)
        if tokens is None or last is None:
            return self.missing(ctx, successor_text_n_prompts=counts.astype(np.float64))
        logits = last_logits(ctx, tokens, last)
        n = len(prompts.clean)
        # Each prompt's competitors: its task's tokens (the whole vocabulary for top1).
        among = torch.zeros(n_tasks, logits.shape[-1], dtype=torch.bool, device=logits.device)
        for t, candidates in enumerate(prompts.candidates):
            among[t, candidates] = True
        rivals = among[torch.tensor(prompts.task, device=logits.device)]
        answer = torch.tensor(prompts.answer, device=logits.device)
        clean = strictly_first(logits[:n], answer, rivals).double().cpu().numpy()
        top1 = strictly_first(logits[:n], answer).double().cpu().numpy()
        noisy = strictly_first(logits[n:], answer, rivals).double().cpu().numpy()
        per_task, per_task_se = np.full(n_tasks, np.nan), np.full(n_tasks, np.nan)
        task_of = np.array(prompts.task)
        for t in range(n_tasks):
            if counts[t]:
                per_task[t] = clean[task_of == t].mean()
                per_task_se[t] = bootstrap_se(clean[task_of == t], self.config)
        out: dict[str, np.ndarray | float] = {
            "successor_text_task_accuracy": per_task,
            "successor_text_task_accuracy_se": per_task_se,
            "successor_text_n_prompts": counts.astype(np.float64),
        }
        per_prompt = {"successor_text_accuracy": clean, "successor_text_top1": top1,
                      "successor_text_corrupted_accuracy": noisy}
        for name, values in per_prompt.items():
            out[name] = float(values.mean())
            out[f"{name}_se"] = float(bootstrap_se(values, self.config))
        return out
