"""Hooked forward for Hugging Face GPT-NeoX (Pythia) models."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F

from tracker.models.base import ArchitectureAdapter, Capture, HookedOutput, check_capture
from tracker.models.registry import register_architecture


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rotary_ndims: int
) -> torch.Tensor:
    """Rotate the first ``rotary_ndims`` dims of (B, H, T, d) by GPT-NeoX's half-split RoPE."""
    rot, keep = x[..., :rotary_ndims], x[..., rotary_ndims:]
    rot = rot * cos + _rotate_half(rot) * sin
    return torch.cat((rot, keep), dim=-1)


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

    def _attention(
        self,
        layer: int,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor,
        want_head_out: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        attn = self.core.layers[layer].attention
        batch, seq, _ = x.shape
        n_heads, d_head = self.n_heads, self.d_head
        qkv = attn.query_key_value(x).view(batch, seq, n_heads, 3 * d_head).transpose(1, 2)
        q, k, v = qkv.chunk(3, dim=-1)
        q = apply_rotary(q, cos, sin, attn.rotary_ndims)
        k = apply_rotary(k, cos, sin, attn.rotary_ndims)
        scores = torch.matmul(q, k.transpose(2, 3)) * attn.scaling + mask
        # Softmax in fp32 as the HF module does, so low-precision runs match it.
        pattern = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        z = torch.matmul(pattern, v)  # (B, H, T, d_head)
        merged = z.transpose(1, 2).reshape(batch, seq, n_heads * d_head)
        out = attn.dense(merged)
        head_out = None
        if want_head_out:
            w_o = attn.dense.weight.view(self.d_model, n_heads, d_head)
            head_out = torch.einsum("bhtd,mhd->bthm", z, w_o)
        return out, pattern, head_out

    def forward(
        self,
        input_ids: torch.Tensor,
        capture: Iterable[Capture] = (),
        attention_mask: torch.Tensor | None = None,
    ) -> HookedOutput:
        """Run the model, returning logits and the requested activations."""
        capture = check_capture(capture)
        input_ids = input_ids.to(self.device)
        batch, seq = input_ids.shape
        x = self.core.embed_in(input_ids)
        positions = torch.arange(seq, device=x.device).unsqueeze(0)
        cos, sin = self.core.rotary_emb(x, position_ids=positions)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        causal = torch.ones(seq, seq, dtype=torch.bool, device=x.device).tril()
        allowed = causal.view(1, 1, seq, seq)
        if attention_mask is not None:
            allowed = allowed & attention_mask.to(x.device).bool().view(batch, 1, 1, seq)
        mask = torch.zeros(allowed.shape, dtype=x.dtype, device=x.device)
        mask = mask.masked_fill(~allowed, torch.finfo(x.dtype).min)

        resid = [x] if "resid" in capture else None
        patterns, head_outs, mlp_outs, attn_outs = [], [], [], []
        for i, block in enumerate(self.core.layers):
            attn_out, pattern, head_out = self._attention(
                i, block.input_layernorm(x), cos, sin, mask, "head_out" in capture
            )
            if self.parallel_residual:
                mlp_out = block.mlp(block.post_attention_layernorm(x))
                x = mlp_out + attn_out + x
            else:
                mid = attn_out + x
                mlp_out = block.mlp(block.post_attention_layernorm(mid))
                x = mlp_out + mid
            if resid is not None:
                resid.append(x)
            if "patterns" in capture:
                patterns.append(pattern)
            if head_out is not None:
                head_outs.append(head_out)
            if "mlp_out" in capture:
                mlp_outs.append(mlp_out)
            if "attn_out" in capture:
                attn_outs.append(attn_out)
        logits = self.model.get_output_embeddings()(self.core.final_layer_norm(x))
        return HookedOutput(
            logits=logits,
            resid=torch.stack(resid) if resid is not None else None,
            patterns=torch.stack(patterns) if patterns else None,
            head_out=torch.stack(head_outs) if head_outs else None,
            mlp_out=torch.stack(mlp_outs) if mlp_outs else None,
            attn_out=torch.stack(attn_outs) if attn_outs else None,
        )

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
