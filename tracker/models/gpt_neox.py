"""Hooked forward for Hugging Face GPT-NeoX (Pythia) models."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from tracker.models.attention import (
    Recorder,
    apply_rotary,
    attend,
    by_rows,
    causal_mask,
    merge_heads,
    rotary_tables,
)
from tracker.models.base import ArchitectureAdapter, Capture, HookedOutput, check_capture
from tracker.models.registry import register_architecture

#: Re-exported: the circuits code imports the rotary from here.
__all__ = ["GPTNeoXAdapter", "apply_rotary"]


@register_architecture
class GPTNeoXAdapter(ArchitectureAdapter):
    """GPT-NeoX (Pythia).

    Fused QKV laid out per head as [q | k | v], partial rotary, optional parallel residual,
    untied unembedding.
    """

    model_types = ("gpt_neox",)

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.core = model.gpt_neox
        self.config = model.config

    @property
    def n_layers(self) -> int:
        """Number of transformer blocks."""
        return len(self.core.layers)

    @property
    def n_heads(self) -> int:
        """Attention heads per layer."""
        return int(self.config.num_attention_heads)

    @property
    def d_model(self) -> int:
        """Residual-stream width."""
        return int(self.config.hidden_size)

    @property
    def parallel_residual(self) -> bool:
        """Whether attention and MLP read the same residual."""
        return bool(self.config.use_parallel_residual)

    def rotary(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotary tables for the first ``rotary_ndims`` dims of every head (partial rotary)."""
        return rotary_tables(self.core.rotary_emb, x)

    def attn_scaling(self, layer: int) -> float:
        """Return the attention module's score scale."""
        return float(self.core.layers[layer].attention.scaling)

    def _attention(
        self,
        layer: int,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor,
        rec: Recorder,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        attn = self.core.layers[layer].attention
        batch, seq, _ = x.shape
        n_heads, d_head = self.n_heads, self.d_head
        qkv = attn.query_key_value(x).view(batch, seq, n_heads, 3 * d_head).transpose(1, 2)
        q, k, v = qkv.chunk(3, dim=-1)
        q = apply_rotary(q, cos, sin, attn.rotary_ndims)
        k = apply_rotary(k, cos, sin, attn.rotary_ndims)
        rec.values(v, n_heads)
        slot = rec.slot("patterns", x, (batch, n_heads, seq, seq))
        pattern, z = attend(q, k, v, self.attn_scaling(layer), mask, out=slot)
        want_head_out = rec.wants("head_out")
        out = attn.dense(merge_heads(z))
        head_out = self.head_writes(layer, z.transpose(1, 2)) if want_head_out else None
        return out, pattern, head_out

    def forward(
        self,
        input_ids: torch.Tensor,
        capture: Iterable[Capture] = (),
        attention_mask: torch.Tensor | None = None,
        logits: bool = True,
    ) -> HookedOutput:
        """Run the model, returning logits and the requested activations."""
        wanted = check_capture(capture)
        input_ids = input_ids.to(self.device)
        x = self.core.embed_in(input_ids)
        cos, sin = rotary_tables(self.core.rotary_emb, x)
        mask = causal_mask(input_ids, attention_mask, x.dtype)
        rec = Recorder(wanted, x, self.n_layers)
        for i, block in enumerate(self.core.layers):
            attn_out, pattern, head_out = self._attention(
                i, block.input_layernorm(x), cos, sin, mask, rec
            )
            if self.parallel_residual:
                mlp_out = by_rows(block.mlp, block.post_attention_layernorm(x))
                x = mlp_out + attn_out + x
            else:
                mid = attn_out + x
                mlp_out = by_rows(block.mlp, block.post_attention_layernorm(mid))
                x = mlp_out + mid
            rec.block(x, pattern, head_out, mlp_out, attn_out)
        if not logits:
            return rec.output(None)
        return rec.output(self.model.get_output_embeddings()(self.core.final_layer_norm(x)))

    def embed_matrix(self) -> torch.Tensor:
        """Token embedding W_E, (V, D)."""
        return self.core.embed_in.weight

    def unembed_matrix(self) -> torch.Tensor:
        """Unembedding W_U, (D, V)."""
        return self.model.get_output_embeddings().weight.T

    def qkv_matrices(self, layer: int) -> tuple[torch.Tensor, ...]:
        """Return (W_Q, W_K, W_V, b_Q, b_K, b_V) as (H, D, d_head) and (H, d_head)."""
        lin = self.core.layers[layer].attention.query_key_value
        weight = lin.weight.view(self.n_heads, 3, self.d_head, self.d_model)
        mats = [weight[:, j].transpose(1, 2) for j in range(3)]
        if lin.bias is not None:
            bias = lin.bias.view(self.n_heads, 3, self.d_head)
            biases = [bias[:, j] for j in range(3)]
        else:
            biases = [weight.new_zeros(self.n_heads, self.d_head) for _ in range(3)]
        return (*mats, *biases)

    def out_matrix(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (W_O, b_O) as (H, d_head, D) and (D,)."""
        dense = self.core.layers[layer].attention.dense
        w_o = dense.weight.view(self.d_model, self.n_heads, self.d_head).permute(1, 2, 0)
        b_o = dense.bias if dense.bias is not None else dense.weight.new_zeros(self.d_model)
        return w_o, b_o

    def attn_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply the input layer norm of a block."""
        return self.core.layers[layer].input_layernorm(x)

    def mlp_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply the post-attention layer norm (the MLP's input norm)."""
        return self.core.layers[layer].post_attention_layernorm(x)

    def mlp(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply a block's MLP."""
        return self.core.layers[layer].mlp(x)

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the final layer norm."""
        return self.core.final_layer_norm(x)
