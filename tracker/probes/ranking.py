"""Strict top-1: whether a target outranks every competitor, with ties counted as failures.

Succession, copying and the running-text successor task all score "the right token comes
first". Ties fail, so a head whose output the unembedding ignores (all logits equal) or
rounding can never inflate a score.
"""

from __future__ import annotations

import torch


def strictly_first(
    scores: torch.Tensor, target: torch.Tensor, among: torch.Tensor | None = None
) -> torch.Tensor:
    """Whether ``scores[..., target]`` is strictly above every other competing entry.

    Args:
        scores: (..., n) scores over n candidates.
        target: Integer index into the last axis, shaped like ``scores.shape[:-1]`` (or
            broadcastable to it).
        among: Optional boolean (..., n) mask of the competitors; the target competes with
            every other entry when None. An entry outside the mask never beats the target.

    Returns:
        Boolean tensor of shape ``scores.shape[:-1]``; True where nothing competes.
    """
    index = target.expand(scores.shape[:-1]).unsqueeze(-1).to(scores.device)
    picked = scores.gather(-1, index).squeeze(-1)
    others = scores if among is None else scores.masked_fill(~among, float("-inf"))
    others = others.scatter(-1, index, float("-inf"))
    return picked > others.amax(dim=-1)
