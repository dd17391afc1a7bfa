"""Pieces every adapter's hooked forward shares: masks, rotary, attention, and the recorder."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tracker.models.base import Capture, HookedOutput


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """Rotate the two halves of the last dim: (a, b) -> (-b, a)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rotary_ndims: int | None = None
) -> torch.Tensor:
    """Rotate the first ``rotary_ndims`` dims of (B, H, T, d) by half-split RoPE.

    GPT-NeoX, Llama and OLMo all use this layout; ``rotary_ndims`` defaults to the width of
    ``cos`` (the rotary embedding module returns cos/sin only for the rotated dims).
    """
    ndims = cos.shape[-1] if rotary_ndims is None else rotary_ndims
    rot, keep = x[..., :ndims], x[..., ndims:]
    rot = rot * cos + rotate_half(rot) * sin
    # OLMo's rotary tables stay fp32; the result keeps x's dtype as HF's modules cast it back.
    return torch.cat((rot.to(x.dtype), keep), dim=-1)


def rotary_tables(
    rotary_emb: torch.nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return a model's rotary (cos, sin) for positions 0..T-1 of x (B, T, D), each (1, 1, T, r).

    ``rotary_emb`` is the model's own rotary module (GPT-NeoX, Llama, OLMo), so its base, scaling
    and rotated width are the model's.
    """
    positions = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    cos, sin = rotary_emb(x, position_ids=positions)
    return cos.unsqueeze(1), sin.unsqueeze(1)


def causal_mask(
    input_ids: torch.Tensor, attention_mask: torch.Tensor | None, dtype: torch.dtype
) -> torch.Tensor:
    """Additive mask (B or 1, 1, T, T): 0 where a query may attend, the dtype's min elsewhere.

    The dtype's min rather than -inf, as Hugging Face does, so a fully masked row (a padded
    query) gives a uniform row instead of NaNs.
    """
    batch, seq = input_ids.shape
    device = input_ids.device
    allowed = torch.ones(seq, seq, dtype=torch.bool, device=device).tril().view(1, 1, seq, seq)
    if attention_mask is not None:
        allowed = allowed & attention_mask.to(device).bool().view(batch, 1, 1, seq)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scaling: float, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention returning (pattern (B, H, T, T), z (B, H, T, d_head)).

    ``k`` and ``v`` may have fewer heads than ``q`` (grouped-query attention): query head
    ``h`` reads key/value head ``h // (H / H_kv)``, as Hugging Face's ``repeat_kv`` does.
    """
    groups = q.shape[1] // k.shape[1]
    if groups > 1:
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
    scores = torch.matmul(q, k.transpose(2, 3)) * scaling + mask
    # Softmax in fp32 as the Llama and GPT-NeoX modules do, so low-precision runs match them.
    pattern = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    return pattern, torch.matmul(pattern, v)


def split_heads(x: torch.Tensor, d_head: int) -> torch.Tensor:
    """(B, T, n * d_head) -> (B, n, T, d_head)."""
    batch, seq, _ = x.shape
    return x.view(batch, seq, -1, d_head).transpose(1, 2)


def merge_heads(z: torch.Tensor) -> torch.Tensor:
    """(B, H, T, d_head) -> (B, T, H * d_head), the layout output projections read."""
    batch, heads, seq, d_head = z.shape
    return z.transpose(1, 2).reshape(batch, seq, heads * d_head)


class Recorder:
    """Collects one forward pass's per-layer activations and stacks them into the output."""

    def __init__(self, capture: frozenset[Capture], embedded: torch.Tensor) -> None:
        self.capture = capture
        self.resid = [embedded] if "resid" in capture else None
        self.layers: dict[str, list[torch.Tensor]] = {
            name: [] for name in ("patterns", "head_out", "mlp_out", "attn_out")
        }

    def wants(self, name: Capture) -> bool:
        """Whether ``name`` was requested."""
        return name in self.capture

    def block(
        self,
        resid: torch.Tensor,
        pattern: torch.Tensor,
        head_out: torch.Tensor | None,
        mlp_out: torch.Tensor,
        attn_out: torch.Tensor,
    ) -> None:
        """Record one block: the stream after it and its pieces (kept only if requested)."""
        if self.resid is not None:
            self.resid.append(resid)
        pieces = {"patterns": pattern, "head_out": head_out, "mlp_out": mlp_out,
                  "attn_out": attn_out}
        for name, value in pieces.items():
            if name in self.capture and value is not None:
                self.layers[name].append(value)

    def output(self, logits: torch.Tensor | None) -> HookedOutput:
        """Return the pass's :class:`HookedOutput`."""
        def stacked(name: str) -> torch.Tensor | None:
            return torch.stack(self.layers[name]) if self.layers[name] else None

        return HookedOutput(
            logits=logits,
            resid=torch.stack(self.resid) if self.resid is not None else None,
            patterns=stacked("patterns"),
            head_out=stacked("head_out"),
            mlp_out=stacked("mlp_out"),
            attn_out=stacked("attn_out"),
        )
