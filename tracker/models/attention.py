"""Pieces every adapter's hooked forward shares: masks, rotary, attention, and the recorder."""

from __future__ import annotations

from collections.abc import Callable

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
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scaling: float,
    mask: torch.Tensor,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention returning (pattern (B, H, T, T), z (B, H, T, d_head)).

    ``k`` and ``v`` may have fewer heads than ``q`` (grouped-query attention): query head
    ``h`` reads key/value head ``h // (H / H_kv)``, as Hugging Face's ``repeat_kv`` does.
    ``out`` (B, H, T, T), where given, receives the pattern when it can be computed in place
    (float32, no gradient): the recorder's slot, so the pattern is never copied.
    """
    groups = q.shape[1] // k.shape[1]
    if groups > 1:
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
    in_place = q.dtype == torch.float32 and not (torch.is_grad_enabled() and q.requires_grad)
    if in_place and out is not None and out.dtype == q.dtype:
        scores = torch.matmul(q, k.transpose(2, 3), out=out)
    else:
        scores = torch.matmul(q, k.transpose(2, 3))
    if in_place:
        # In place: (B, H, T, T) buffers are the largest of a hooked pass; one is held here
        # where the out-of-place form held three (scores, masked scores, probabilities).
        # (torch's softmax kernel reads each row before writing it, so out= may alias it;
        # it is also 4x faster than sub/exp/div in place and 2x F.softmax on a fresh sum.)
        pattern = torch.softmax(scores.mul_(scaling).add_(mask), dim=-1, out=scores)
    else:
        # Softmax in fp32 as the Llama and GPT-NeoX modules do, so low-precision runs match.
        pattern = F.softmax(scores * scaling + mask, dim=-1, dtype=torch.float32).to(q.dtype)
    return pattern, torch.matmul(pattern, v)


def by_rows(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, rows: int = 1024
) -> torch.Tensor:
    """Apply a position-wise ``fn`` to x (..., D) in chunks of ``rows`` positions.

    Without gradients only (else one call): an MLP's hidden layer is 4x the stream, and
    chunking keeps two chunks of it alive instead of two copies for the whole batch, with the
    same result.
    """
    flat = x.reshape(-1, x.shape[-1])
    if torch.is_grad_enabled() or flat.shape[0] <= rows:
        return fn(x)
    first = fn(flat[:rows])
    out = first.new_empty((flat.shape[0], *first.shape[1:]))
    out[:rows] = first
    for start in range(rows, flat.shape[0], rows):
        out[start : start + rows] = fn(flat[start : start + rows])
    return out.view(*x.shape[:-1], *first.shape[1:])


def split_heads(x: torch.Tensor, d_head: int) -> torch.Tensor:
    """(B, T, n * d_head) -> (B, n, T, d_head)."""
    batch, seq, _ = x.shape
    return x.view(batch, seq, -1, d_head).transpose(1, 2)


def merge_heads(z: torch.Tensor) -> torch.Tensor:
    """(B, H, T, d_head) -> (B, T, H * d_head), the layout output projections read."""
    batch, heads, seq, d_head = z.shape
    return z.transpose(1, 2).reshape(batch, seq, heads * d_head)


class Recorder:
    """Collects one forward pass's per-layer activations into preallocated stacked outputs.

    Each requested activation is written into one (L, ...) tensor allocated at the first
    block, and the block's own tensor is dropped, so a pass holds one copy of what it returns
    (stacking per-layer lists at the end held two: for the patterns of a 16 x 201 batch on a
    Pythia-70m shape, 124 MB more at the high-water mark).
    """

    def __init__(self, capture: frozenset[Capture], embedded: torch.Tensor, n_layers: int) -> None:
        self.capture = capture
        self.n_layers = n_layers
        self.stacked: dict[str, torch.Tensor] = {}
        self.layer = 0
        if "resid" in capture:
            self._put("resid", 0, embedded, n_layers + 1)

    def wants(self, name: Capture) -> bool:
        """Whether ``name`` was requested."""
        return name in self.capture

    def _put(self, name: str, index: int, value: torch.Tensor, length: int) -> None:
        if name not in self.stacked:
            self.stacked[name] = value.new_empty((length, *value.shape))
        target = self.stacked[name][index]
        if target.data_ptr() != value.data_ptr():  # written in place through slot()
            target.copy_(value)

    def slot(
        self, name: Capture, like: torch.Tensor, shape: tuple[int, ...]
    ) -> torch.Tensor | None:
        """Return where this block's ``name`` (of ``shape``) is stored, or None if not wanted.

        A computation that writes its result there directly (``attend(out=...)``) saves the
        copy and the temporary; ``like`` gives the dtype and device.
        """
        if name not in self.capture:
            return None
        if name not in self.stacked:
            self.stacked[name] = like.new_empty((self.n_layers, *shape))
        return self.stacked[name][self.layer]

    def values(self, v: torch.Tensor, n_heads: int) -> None:
        """Record this block's value-vector norms, if wanted, from v (B, H_kv, T, d_head).

        Query head ``h`` reads key/value head ``h // (H / H_kv)``, so each norm is repeated
        for the query heads that share it, as ``attend`` repeats the vectors.
        """
        if "value_norms" not in self.capture:
            return
        norms = v.float().norm(dim=-1)  # (B, H_kv, T)
        if n_heads > v.shape[1]:
            norms = norms.repeat_interleave(n_heads // v.shape[1], dim=1)
        self._put("value_norms", self.layer, norms, self.n_layers)

    def block(
        self,
        resid: torch.Tensor,
        pattern: torch.Tensor,
        head_out: torch.Tensor | None,
        mlp_out: torch.Tensor,
        attn_out: torch.Tensor,
    ) -> None:
        """Record one block: the stream after it and its pieces (kept only if requested)."""
        if "resid" in self.capture:
            self._put("resid", self.layer + 1, resid, self.n_layers + 1)
        pieces = {"patterns": pattern, "head_out": head_out, "mlp_out": mlp_out,
                  "attn_out": attn_out}
        for name, value in pieces.items():
            if name in self.capture and value is not None:
                self._put(name, self.layer, value, self.n_layers)
        self.layer += 1

    def output(self, logits: torch.Tensor | None) -> HookedOutput:
        """Return the pass's :class:`HookedOutput`."""
        get = self.stacked.get
        return HookedOutput(logits=logits, resid=get("resid"), patterns=get("patterns"),
                            head_out=get("head_out"), mlp_out=get("mlp_out"),
                            attn_out=get("attn_out"), value_norms=get("value_norms"))
