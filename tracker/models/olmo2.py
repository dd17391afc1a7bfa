"""Hooked forward for Hugging Face OLMo 2 models (allenai's OLMo-2 series).

OLMo 2 is Llama-like (rotary, grouped-query attention, gated MLP, sequential blocks) with two
changes that matter here:

* QK-norm: an RMSNorm over the whole projected query (all heads together) and one over the
  keys, before rotary. It is not linear, so ``qkv_matrices`` returns the raw projections;
  patterns come from the forward, which applies it.
* Norm placement: no norm in front of attention or the MLP; instead each one's *output* goes
  through an RMSNorm before it is added to the stream,
  ``x + post_attention_layernorm(attn(x))`` and ``x + post_feedforward_layernorm(mlp(x))``.
  So ``attn_norm`` and ``mlp_norm`` are the identity and ``mlp`` includes its output norm.

The attention output norm is ``w * a / rms(a)`` of the summed heads ``a``. Per head it is
split with the position's scale ``1 / rms(a)`` held fixed (as TransformerLens freezes a layer
norm's scale): ``head_out[h] = z[h] (W_O[h] * w) / rms(a)``, and the heads sum exactly to the
attention output. Accordingly ``out_matrix`` returns ``W_O[h] * w`` (the gain folded in,
the one tensor this adapter builds rather than views): a head's write up to a positive scale
per position, which is what the OV-circuit probes read. OLMo 2 has no attention biases; a
checkpoint with them is refused, since the bias would pass through the norm too.

In the circuit graph (:mod:`tracker.circuits.split_forward`) the heads are separate senders
and their writes are :meth:`Olmo2Adapter.head_writes`, so the decision there is the same one:
every forward computes the scale from its own heads of the layer, and an edge patched to a
corrupted head reads that head's share as the corrupted run scaled it. Renormalising a patched
head together with its clean layer-mates instead would make one edge's patch move what every
other head of that layer sends, which is no longer a one-edge intervention; with nothing
patched the heads sum to the attention output, so the split forward is the model. The
QK-norm needs the other heads' projections too; :meth:`Olmo2Adapter.head_qkv` says how.
"""

from __future__ import annotations

from typing import Any

import torch

from tracker.errors import UnsupportedArchitectureError
from tracker.models.attention import merge_heads
from tracker.models.llama import LlamaAdapter
from tracker.models.registry import register_architecture


@register_architecture
class Olmo2Adapter(LlamaAdapter):
    """OLMo 2: Llama-like with QK-norm and norms after attention and MLP."""

    model_types: tuple[str, ...] = ("olmo2",)

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        if getattr(self.config, "attention_bias", False):
            raise UnsupportedArchitectureError(
                "olmo2 with attention_bias: the bias would pass through the post-attention "
                "norm, so heads would not sum to the attention output")

    def _project(self, layer: int, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """q, k (each through its QK-norm) and v of a layer before rotary."""
        attn = self.core.layers[layer].self_attn
        return attn.q_norm(attn.q_proj(x)), attn.k_norm(attn.k_proj(x)), attn.v_proj(x)

    def head_qkv(self, layer: int, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per query head q, k, v from each head's own input, q and k through the QK-norm.

        The QK-norm divides by the RMS over *all* heads' projections, so it is not per head.
        A head's query is what the model computes if its own input were the whole stream:
        every head's projection of that input, normed together, then the head's own slice
        (likewise keys, per key/value head). With one input for all heads this is the
        forward's; it costs H times the q and k projections.
        """
        attn = self.core.layers[layer].self_attn
        heads = torch.arange(self.n_heads, device=x.device)
        kv_heads = heads // (self.n_heads // self.n_kv_heads)

        def own(inputs: torch.Tensor, proj: torch.nn.Module, norm: torch.nn.Module,
                slot: torch.Tensor) -> torch.Tensor:
            full = norm(proj(inputs))  # (B, T, H, width): every head's, from this head's input
            full = full.view(*full.shape[:3], -1, self.d_head)
            return full[:, :, heads, slot].transpose(1, 2)  # (B, H, T, d_head)

        w_v, b_v = self.qkv_matrices(layer)[2::3]
        v = torch.einsum("bthd,hde->bhte", x[:, :, 2], w_v.to(x.dtype)) \
            + b_v.to(x.dtype)[None, :, None]
        return (own(x[:, :, 0], attn.q_proj, attn.q_norm, heads),
                own(x[:, :, 1], attn.k_proj, attn.k_norm, kv_heads), v)

    def _write(
        self, layer: int, z: torch.Tensor, want_head_out: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the post-normed attention output and each head's share (module docstring)."""
        block = self.core.layers[layer]
        out = block.post_attention_layernorm(block.self_attn.o_proj(merge_heads(z)))
        return out, self.head_writes(layer, z.transpose(1, 2)) if want_head_out else None

    def head_writes(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        """Each head's share of the post-normed attention output (module docstring).

        The norm's scale ``1 / rms(a)`` of the summed heads ``a`` is computed from these
        heads, so a head's write depends on its layer-mates through that scale alone.
        """
        w_o, b_o = super().out_matrix(layer)  # the raw o_proj map
        raw = torch.einsum("...hd,hdm->...m", z, w_o.to(z.dtype)) + b_o.to(z.dtype)
        norm = self.core.layers[layer].post_attention_layernorm
        # The norm's own arithmetic: fp32 mean square, eps inside the root.
        scale = torch.rsqrt(raw.float().pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
        return super().head_writes(layer, z) * scale.to(z.dtype)[..., None, :]

    def attn_output(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        """Return the post-normed attention output from per-head values z (..., H, d_head)."""
        w_o, b_o = super().out_matrix(layer)  # the raw o_proj map
        raw = torch.einsum("...hd,hdm->...m", z, w_o.to(z.dtype)) + b_o.to(z.dtype)
        return self.core.layers[layer].post_attention_layernorm(raw)

    def out_matrix(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (W_O * w, 0): the output map with the post-attention norm's gain folded in."""
        w_o, b_o = super().out_matrix(layer)
        gain = self.core.layers[layer].post_attention_layernorm.weight
        return w_o * gain, b_o

    def attn_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Return x: OLMo 2 has no norm in front of attention."""
        return x

    def mlp_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Return x: OLMo 2 has no norm in front of the MLP."""
        return x

    def mlp(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply a block's MLP and its output norm (what the block adds to the stream)."""
        block = self.core.layers[layer]
        return block.post_feedforward_layernorm(block.mlp(x))
