"""Weight-level helpers shared by circuit probes: head OV maps and direct unembedding in fp32.

Everything here runs in float32 whatever the model's dtype: weight matrices are cast, and
layer norms run through :func:`fp32_call`, which calls the model's own norm modules with
their (small, 1-d) parameters temporarily swapped for fp32 copies, so no parameter of the
shared model is modified and nothing large is copied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from tracker.probes.context import ProbeContext


class _Bound(torch.nn.Module):
    """Wraps a model so ``torch.func.functional_call`` can swap its parameters for ``fn``."""

    def __init__(self, model: torch.nn.Module, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self._fn = fn

    def forward(self, *args: Any) -> torch.Tensor:
        return self._fn(*args)


def fp32_call(model: torch.nn.Module, fn: Callable[..., torch.Tensor], *args: Any) -> torch.Tensor:
    """Call ``fn(*args)`` with the model's 1-d parameters (norm weights, biases) in fp32.

    Meant for adapter methods that apply norm modules (``attn_norm``, ``final_norm``) to fp32
    inputs; tensors in ``args`` are cast to fp32.
    """
    args = tuple(a.float() if isinstance(a, torch.Tensor) else a for a in args)
    small = {
        f"model.{name}": p.float()
        for name, p in model.named_parameters()
        if p.ndim <= 1 and p.dtype != torch.float32
    }
    if not small:
        return fn(*args).float()
    return torch.func.functional_call(_Bound(model, fn), small, args).float()


def attn_norm(ctx: ProbeContext, layer: int, x: torch.Tensor) -> torch.Tensor:
    """Apply the layer's attention input norm in fp32."""
    return fp32_call(ctx.model, ctx.adapter.attn_norm, layer, x)


def head_values(
    ctx: ProbeContext, layer: int, normed: torch.Tensor, value_bias: bool = True
) -> torch.Tensor:
    """Value vectors ``normed @ W_V[h] (+ b_V[h])``: (..., D) -> (H, ..., d_head), fp32."""
    _, _, w_v, _, _, b_v = ctx.adapter.qkv_matrices(layer)
    flat = normed.reshape(-1, normed.shape[-1]).float()
    values = torch.einsum("nd,hde->hne", flat, w_v.float())
    if value_bias:
        values = values + b_v.float()[:, None, :]
    return values.reshape(w_v.shape[0], *normed.shape[:-1], w_v.shape[-1])


def head_ov(
    ctx: ProbeContext, layer: int, normed: torch.Tensor, value_bias: bool = True
) -> torch.Tensor:
    """Each head's output when it attends fully to inputs ``normed``: (..., D) -> (H, ..., D).

    This is ``(normed @ W_V[h] + b_V[h]) @ W_O[h]``, without the layer's output bias. With
    ``value_bias=False`` it is the OV circuit proper, ``normed @ W_V[h] @ W_O[h]``: the term
    ``b_V[h] W_O[h]`` is the same for every input (a fixed push), and TransformerLens folds it
    into the output bias, so circuit scores in the literature (Gould et al.) exclude it.
    """
    values = head_values(ctx, layer, normed, value_bias)
    w_o, _ = ctx.adapter.out_matrix(layer)
    heads = values.shape[0]
    flat = values.reshape(heads, -1, values.shape[-1])
    out = torch.einsum("hne,hed->hnd", flat, w_o.float())
    return out.reshape(*values.shape[:-1], out.shape[-1])


def final_normed(ctx: ProbeContext, out: torch.Tensor) -> torch.Tensor:
    """Apply the final norm to contributions ``out`` (..., D) as if each were the residual.

    The norm's bias (``final_norm(0)``, a constant shared by all inputs) is removed, so the
    result times ``W_U`` is a contribution's direct effect on the logits up to the
    positive per-vector scale of the norm.
    """
    zero = torch.zeros(1, out.shape[-1], device=out.device)
    normed = fp32_call(ctx.model, ctx.adapter.final_norm, out.float())
    return normed - fp32_call(ctx.model, ctx.adapter.final_norm, zero)[0]


def unembed_rows(ctx: ProbeContext, ids: torch.Tensor) -> torch.Tensor:
    """fp32 unembedding vectors of token ids: (...,) -> (..., D)."""
    w_u = ctx.adapter.unembed_matrix()
    return w_u.T[ids.to(w_u.device)].float()


def direct_logits(ctx: ProbeContext, out: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Direct logits (..., C) of token ids ``ids`` (C,) from contributions ``out`` (..., D)."""
    return final_normed(ctx, out) @ unembed_rows(ctx, ids).T
