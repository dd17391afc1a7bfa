"""Base class of the prompt-task probes: one forward pass over clean and corrupted prompts."""

from __future__ import annotations

from typing import Any

import torch

from tracker.probes.base import ConfigT, Probe
from tracker.probes.context import ProbeContext
from tracker.probes.tasks import pad_id, pad_right


class PromptProbe(Probe[ConfigT]):
    """A probe read at the last token of clean prompts and their corrupted twins.

    Subclasses build their prompts (an object with ``clean`` and ``corrupted`` lists of token
    id lists) in :meth:`build_prompts`; this class pads them into one right-padded batch,
    memoises it on the context (so ``declare`` and ``run`` share it) and announces the one
    forward pass it needs.
    """

    def build_prompts(self, ctx: ProbeContext) -> Any:
        """Return the prompts for this model's tokenizer (``clean`` may be empty)."""
        raise NotImplementedError

    def prompt_batch(
        self, ctx: ProbeContext
    ) -> tuple[Any, torch.Tensor | None, torch.Tensor | None]:
        """Return ``(prompts, tokens, last)``; tokens and last are None without prompts."""

        def build() -> tuple[Any, torch.Tensor | None, torch.Tensor | None]:
            prompts = self.build_prompts(ctx)
            if not prompts.clean:
                return prompts, None, None
            tokens, last = pad_right(prompts.clean + prompts.corrupted, pad_id(ctx))
            return prompts, tokens, last

        return ctx.memo(f"{self.name}:{self.key}", build)

    def declare(self, ctx: ProbeContext) -> None:
        """Announce the one forward pass over clean and corrupted prompts."""
        tokens = self.prompt_batch(ctx)[1]
        if tokens is not None:
            ctx.declare(tokens, frozenset())
