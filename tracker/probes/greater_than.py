"""Greater-than (Hanna et al. 2023): probability on years above the start year minus at/below.

Prompts come from ``data/tasks/greater_than.json``: "The {NOUN} lasted from the year
{CENTURY}{YY} to the year {CENTURY}", e.g. "... from the year 1732 to the year 17", drawn with
a fixed seed (noun, century, YY in ``min_yy..max_yy``). The century is a key word with a
leading space (" 17") and YY a two-digit token without one ("32"); a prompt is kept only if
both are single tokens and the tokenizer itself splits the start year " 1732" into exactly
those two tokens (Hanna et al.'s filter; :func:`tracker.probes.prompts.render`).
Its corrupted twin uses the file's ``corrupt_yy`` (01; it must be a
token too).

The next token after the final century is a two-digit token; with ``p`` the model's
next-token distribution (softmax over the whole vocabulary, fp32) and ``y`` ranging over the
two-digit tokens "00".."99" that are single tokens:

* ``gt_prob_diff``: mean over prompts of ``sum_{y > YY} p(y) - sum_{y <= YY} p(y)``;
* ``gt_corrupted_prob_diff``: the same on the corrupted prompts (YY = corrupt_yy);
* ``gt_year_mass``: mean total probability on two-digit tokens (clean prompts);
* ``gt_n_prompts``: prompts kept (0 gives NaN for the others).

Each mean's standard error (``NAME_se``) is a bootstrap over the prompts.

Chance level of ``gt_prob_diff``: 0. A model with no greater-than mechanism that spreads its
year mass ``m`` evenly over the 100 two-digit tokens scores ``m * (99 - 2 YY) / 100`` on a
prompt, whose mean over YY drawn uniformly from 2..98 is ``-0.01 m``, i.e. 0 up to 1% of the
year mass; one that ignores the start year altogether has no reason to favour either side.
The corrupted twin (YY = 01, where "above" is nearly every year) is the empirical baseline
and has no chance level of its own; nor does ``gt_year_mass``.
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

KEYS = ("CENTURY", "YY")


@dataclass(frozen=True)
class GreaterThanConfig(BootstrapConfig):
    """Config of the greater-than probe.

    Attributes:
        tasks_file: Task file, relative to the data directory (or absolute).
        n_prompts: Prompts drawn (before dropping those whose key words are not tokens).
        seed: Seed of the draw.
        prepend_bos: Put BOS in front of each prompt.
    """

    tasks_file: str = "tasks/greater_than.json"
    n_prompts: int = 50
    seed: int = 0
    prepend_bos: bool = True


@dataclass
class GreaterThanPrompts:
    """Kept prompts as token ids with their start years, and the two-digit year tokens."""

    clean: list[list[int]] = field(default_factory=list)
    corrupted: list[list[int]] = field(default_factory=list)
    yy: list[int] = field(default_factory=list)
    corrupt_yy: int = 1
    year_values: list[int] = field(default_factory=list)
    year_ids: list[int] = field(default_factory=list)


def greater_than_prompts(
    tokenizer: Any, data: Mapping[str, Any], n_prompts: int, seed: int, prefix: list[int]
) -> GreaterThanPrompts:
    """Draw greater-than prompts and their YY = 01 twins (module docstring)."""
    rng = random.Random(seed)
    out = GreaterThanPrompts()
    if tokenizer is None:
        return out
    for y in range(100):
        token = word_token(tokenizer, f"{y:02d}")
        if token is not None:
            out.year_values.append(y)
            out.year_ids.append(token)
    template = data["template"]
    out.corrupt_yy = int(data.get("corrupt_yy", 1))
    for _ in range(n_prompts):
        noun, century = rng.choice(data["nouns"]), rng.choice(data["centuries"])
        yy = rng.randint(int(data["min_yy"]), int(data["max_yy"]))
        values = {"NOUN": noun, "CENTURY": century}
        clean = render(tokenizer, template, {**values, "YY": f"{yy:02d}"}, KEYS)
        corrupted = render(tokenizer, template, {**values, "YY": f"{out.corrupt_yy:02d}"}, KEYS)
        if clean is None or corrupted is None:
            continue
        out.clean.append(prefix + clean)
        out.corrupted.append(prefix + corrupted)
        out.yy.append(yy)
    return out


@register_probe
class GreaterThanProbe(PromptProbe[GreaterThanConfig]):
    """Greater-than probability difference on year prompts (see the module docstring)."""

    name = "greater_than"
    version = 3
    description = (
        "greater-than: probability on end years above the start year minus on years at or "
        "below it"
    )
    Config = GreaterThanConfig

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Model-level scalars."""
        return with_errors([
            Metric(name="gt_prob_diff", kind="scalar",
                   description="p(year > YY) - p(year <= YY)",
                   higher_is_mechanism=True, chance=0.0),
            Metric(name="gt_corrupted_prob_diff", kind="scalar",
                   description="the same with the corrupted start year",
                   higher_is_mechanism=None),
            Metric(name="gt_year_mass", kind="scalar",
                   description="probability on two-digit tokens",
                   higher_is_mechanism=None),
            Metric(name="gt_n_prompts", kind="scalar",
                   description="prompts kept (start year split by the tokenizer as ' CC' + 'YY')",
                   higher_is_mechanism=None),
        ], skip=("gt_n_prompts",))

    def build_prompts(self, ctx: ProbeContext) -> GreaterThanPrompts:
        """Year prompts and their corrupted twins for this tokenizer."""
        cfg = self.config
        return greater_than_prompts(ctx.tokenizer, load_task_file(cfg.tasks_file),
                                    cfg.n_prompts, cfg.seed, bos_prefix(ctx, cfg.prepend_bos))

    @torch.no_grad()
    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Measure the probability differences."""
        prompts, tokens, last = self.prompt_batch(ctx)
        if tokens is None or last is None:
            return self.missing(ctx, gt_n_prompts=0.0)
        probs = torch.softmax(last_logits(ctx, tokens, last), dim=-1).double()
        years = probs[:, torch.tensor(prompts.year_ids, device=probs.device)]  # (2N, Y)
        n = len(prompts.clean)
        values = torch.tensor(prompts.year_values, device=probs.device)
        start = torch.tensor(prompts.yy + [prompts.corrupt_yy] * n, device=probs.device)
        above = values[None, :] > start[:, None]
        diff = (years * above).sum(-1) - (years * ~above).sum(-1)
        per_prompt = {"gt_prob_diff": diff[:n], "gt_corrupted_prob_diff": diff[n:],
                      "gt_year_mass": years[:n].sum(-1)}
        out: dict[str, float] = {"gt_n_prompts": float(n)}
        for name, values in per_prompt.items():
            array = values.cpu().numpy()
            out[name] = float(array.mean())
            out[f"{name}_se"] = float(bootstrap_se(array, self.config))
        return out
