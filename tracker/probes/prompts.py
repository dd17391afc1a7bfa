"""Task data files, prompt building and the base class of the prompt-task probes.

Task lists, templates and word lists live in JSON files under ``data/`` (see each file's
``_doc``); probes name them by a path relative to the data directory, which is
``$TRACKER_DATA_DIR`` when set and otherwise the shipped ``data/`` (:mod:`tracker.datafiles`).

Prompts are built from templates *piecewise*: literal text is tokenized as it stands and each
``{PLACEHOLDER}`` is tokenized on its own, taking over the space in front of it (``"the
{PLACE}"`` renders ``"the"`` then ``" store"``). Key placeholders (names, years, sequence
items) must be single tokens, else the prompt is dropped. A word counts as a token only if it
encodes to exactly one id that is neither special nor the unknown token.

Prompts of different lengths are batched with right padding and read at each prompt's last
real position. Under causal attention no position before the padding can see it, so the
logits there equal those of the unpadded prompt and no attention mask is needed; this keeps
every prompt set to one (memoised, shareable) forward pass.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from tracker.datafiles import data_dir
from tracker.models.tokens import word_token
from tracker.probes.base import ConfigT, Probe
from tracker.probes.context import ProbeContext, bos_id

_PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)\}")
T = TypeVar("T")


@functools.lru_cache(maxsize=32)
def _load_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_task_file(path: str) -> dict[str, Any]:
    """Load a task JSON file; a relative ``path`` is taken relative to :func:`data_dir`.

    Raises:
        FileNotFoundError: Naming the resolved path, when the file is missing.
    """
    resolved = Path(path) if Path(path).is_absolute() else data_dir() / path
    if not resolved.is_file():
        raise FileNotFoundError(f"task data file not found: {resolved}")
    return _load_json(str(resolved))


def render(
    tokenizer: Any,
    template: str,
    values: Mapping[str, str | Sequence[str]],
    keys: Collection[str] = (),
) -> list[int] | None:
    """Tokenize a template piecewise (see the module docstring).

    Args:
        tokenizer: The tokenizer.
        template: Text with ``{NAME}`` placeholders.
        values: Placeholder values. A list value renders as consecutive words, each with a
            leading space and each a key word.
        keys: Placeholders whose values must be single tokens.

    Returns:
        Token ids (no BOS), or None if a key word is not a single token or the tokenizer
        splits the whole text differently.
    """
    ids: list[int] = []
    text = ""
    pos = 0
    for match in _PLACEHOLDER.finditer(template):
        literal = template[pos : match.start()]
        space = literal.endswith(" ")
        literal = literal[:-1] if space else literal
        if literal:
            ids += tokenizer.encode(literal, add_special_tokens=False)
        value = values[match.group(1)]
        text += literal + ("".join(" " + w for w in value) if not isinstance(value, str)
                           else (" " if space else "") + value)
        if not isinstance(value, str):
            for word in value:
                token = word_token(tokenizer, " " + word)
                if token is None:
                    return None
                ids.append(token)
        elif match.group(1) in keys:
            token = word_token(tokenizer, (" " if space else "") + value)
            if token is None:
                return None
            ids.append(token)
        else:
            ids += tokenizer.encode((" " if space else "") + value, add_special_tokens=False)
        pos = match.end()
    if template[pos:]:
        ids += tokenizer.encode(template[pos:], add_special_tokens=False)
        text += template[pos:]
    return ids if tokenizer.encode(text, add_special_tokens=False) == ids else None


def bos_prefix(ctx: ProbeContext, prepend_bos: bool) -> list[int]:
    """``[BOS]`` when asked for and known (tokenizer's, else the model config's), else []."""
    if not prepend_bos:
        return []
    bos = bos_id(ctx.adapter, ctx.tokenizer)
    return [] if bos is None else [bos]


def pad_right(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token lists into (N, T_max); return it and each row's last real index."""
    width = max(len(s) for s in seqs)
    tokens = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for row, seq in enumerate(seqs):
        tokens[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
    last = torch.tensor([len(s) - 1 for s in seqs], dtype=torch.long)
    return tokens, last


def pad_id(ctx: ProbeContext) -> int:
    """Id used for right padding (never read, see the module docstring)."""
    tok = ctx.tokenizer
    for name in ("pad_token_id", "eos_token_id", "bos_token_id"):
        value = getattr(tok, name, None) if tok is not None else None
        if value is not None:
            return int(value)
    return 0


def last_logits(ctx: ProbeContext, tokens: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """fp32 logits (N, V) at each row's last real position (one memoised forward pass)."""
    logits = ctx.forward(tokens, {"logits"}).require("logits")
    rows = torch.arange(tokens.shape[0], device=logits.device)
    return logits[rows, last.to(logits.device)].float()


def as_tuple(value: Any) -> tuple[Any, ...]:
    """Turn a list (e.g. from JSON config overrides) into a tuple so configs stay hashable."""
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


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
            ctx.declare(tokens, {"logits"})
