"""Indirect-object identification (Wang et al. 2022): logit difference IO minus S.

Prompts come from ``data/tasks/ioi.json``: a template such as "When {A} and {B} went to the
{PLACE}, {S} gave the {OBJECT} to" with two different names A and B, S one of them (the
subject, alternating) and IO the other; the answer is " {IO}". Each prompt has a corrupted
twin from the ABC distribution: A and B in the first clause are replaced by two other names,
so the clause no longer tells IO from S. Prompts are drawn with a fixed seed from the file's
lists and kept only if all four names are single tokens with a leading space.

Metrics, read at each prompt's last token (one forward pass over clean and corrupted prompts,
right-padded, see :mod:`tracker.probes.prompts`):

* ``ioi_logit_diff``: mean of ``logit(IO) - logit(S)`` on the clean prompts;
* ``ioi_accuracy``: fraction of clean prompts with ``logit(IO) > logit(S)``;
* ``ioi_corrupted_logit_diff``: the same difference on the corrupted prompts (a baseline);
* ``ioi_n_prompts``: prompts kept (0 gives NaN for the others).

Each mean's standard error (``NAME_se``) is a seeded bootstrap over the prompts (clean and
corrupted resampled separately, each from its own per-prompt values of the one pass).
``ioi_accuracy`` moves in steps of ``1/n`` over ``n`` kept prompts and has chance level 0.5
(a model blind to the first clause prefers IO or S at random); the logit differences have
chance level 0.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from tracker.metric import Metric
from tracker.probes.base import ProbeValues
from tracker.probes.context import ProbeContext
from tracker.probes.prompts import (
    PromptProbe,
    bos_prefix,
    last_logits,
    load_task_file,
    render,
    word_token,
)
from tracker.probes.registry import register_probe
from tracker.probes.uncertainty import BootstrapConfig, bootstrap_se, with_errors

NAME_KEYS = ("A", "B", "S")


@dataclass(frozen=True)
class IOIConfig(BootstrapConfig):
    """Config of the IOI probe.

    Attributes:
        tasks_file: Task file, relative to the data directory (or absolute).
        n_prompts: Prompts drawn (before dropping those with multi-token names).
        seed: Seed of the draw.
        prepend_bos: Put BOS in front of each prompt.
    """

    tasks_file: str = "tasks/ioi.json"
    n_prompts: int = 50
    seed: int = 0
    prepend_bos: bool = True


@dataclass
class IOIPrompts:
    """Kept prompts as token ids, with the answer (IO) and subject (S) ids."""

    clean: list[list[int]] = field(default_factory=list)
    corrupted: list[list[int]] = field(default_factory=list)
    io: list[int] = field(default_factory=list)
    s: list[int] = field(default_factory=list)


def ioi_prompts(
    tokenizer: Any, data: Mapping[str, Any], n_prompts: int, seed: int, prefix: list[int]
) -> IOIPrompts:
    """Draw IOI prompts and their ABC-corrupted twins (module docstring)."""
    rng = random.Random(seed)
    names, templates = list(data["names"]), list(data["templates"])
    out = IOIPrompts()
    if tokenizer is None:
        return out
    for k in range(n_prompts):
        template = templates[k % len(templates)]
        a, b, c, d = rng.sample(names, 4)
        subject, io = (a, b) if k % 2 == 0 else (b, a)
        rest = {"PLACE": rng.choice(data["places"]), "OBJECT": rng.choice(data["objects"])}
        clean = render(tokenizer, template, {"A": a, "B": b, "S": subject, **rest}, NAME_KEYS)
        corrupted = render(tokenizer, template, {"A": c, "B": d, "S": subject, **rest}, NAME_KEYS)
        io_id, s_id = word_token(tokenizer, " " + io), word_token(tokenizer, " " + subject)
        if clean is None or corrupted is None or io_id is None or s_id is None:
            continue
        out.clean.append(prefix + clean)
        out.corrupted.append(prefix + corrupted)
        out.io.append(io_id)
        out.s.append(s_id)
    return out


@register_probe
class IOIProbe(PromptProbe[IOIConfig]):
    """IOI logit difference and accuracy on template prompts (see the module docstring)."""

    name = "ioi"
    version = 3
    description = "indirect-object identification: logit(IO) - logit(S) and accuracy"
    Config = IOIConfig

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Model-level scalars, each mean with its standard error."""
        n = len(self.prompt_batch(ctx)[0].clean)
        return with_errors([
            Metric(name="ioi_logit_diff", kind="scalar",
                   description="mean logit(IO) - logit(S) at the end",
                   higher_is_mechanism=True, chance=0.0),
            Metric(name="ioi_accuracy", kind="scalar",
                   description="fraction of prompts with logit(IO) > logit(S)",
                   higher_is_mechanism=True, resolution=1.0 / n if n else None, chance=0.5),
            Metric(name="ioi_corrupted_logit_diff", kind="scalar",
                   description="logit(IO) - logit(S) on ABC corrupted prompts",
                   higher_is_mechanism=None),
            Metric(name="ioi_n_prompts", kind="scalar",
                   description="prompts kept",
                   higher_is_mechanism=None),
        ], skip=("ioi_n_prompts",))

    def build_prompts(self, ctx: ProbeContext) -> IOIPrompts:
        """IOI prompts and their ABC twins for this tokenizer."""
        cfg = self.config
        return ioi_prompts(ctx.tokenizer, load_task_file(cfg.tasks_file), cfg.n_prompts,
                           cfg.seed, bos_prefix(ctx, cfg.prepend_bos))

    @torch.no_grad()
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Measure the logit differences."""
        prompts, tokens, last = self.prompt_batch(ctx)
        if tokens is None or last is None:
            return self.missing(ctx, ioi_n_prompts=0.0)
        logits = last_logits(ctx, tokens, last).double()
        n = len(prompts.clean)
        io = torch.tensor(prompts.io * 2, device=logits.device)
        s = torch.tensor(prompts.s * 2, device=logits.device)
        rows = torch.arange(2 * n, device=logits.device)
        diff = (logits[rows, io] - logits[rows, s]).cpu().numpy()
        per_prompt = {"ioi_logit_diff": diff[:n], "ioi_accuracy": (diff[:n] > 0).astype(float),
                      "ioi_corrupted_logit_diff": diff[n:]}
        out: dict[str, float] = {"ioi_n_prompts": float(n)}
        for name, values in per_prompt.items():
            out[name] = float(values.mean())
            out[f"{name}_se"] = float(bootstrap_se(values, self.config))
        return out
