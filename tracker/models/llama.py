"""Hooked forward for Hugging Face Llama-family models (Llama, OLMo 1, LLM360 Amber, user runs).

Separate ``q_proj``/``k_proj``/``v_proj``/``o_proj`` linears (no bias unless
``attention_bias``), full-width rotary on every head, grouped-query attention
(``num_key_value_heads`` key/value heads shared by groups of query heads), pre-norm
sequential blocks and a gated MLP. Llama's norms are RMSNorms; OLMo 1's are LayerNorms without
parameters and it may clip q, k and v to ``[-clip_qkv, clip_qkv]`` (applied in the forward;
the weight accessors return the raw linear maps).

Under grouped-query attention everything per head is per *query* head: patterns, head outputs
and ``qkv_matrices`` (whose W_K, W_V, b_K, b_V repeat each key/value head for the query heads
of its group; those are the only tensors an accessor builds rather than views).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
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
    split_heads,
)
from tracker.models.base import ArchitectureAdapter, Capture, HookedOutput, check_capture
from tracker.models.registry import register_architecture


@register_architecture
class LlamaAdapter(ArchitectureAdapter):
    """Llama and OLMo 1: pre-norm sequential blocks, rotary, grouped-query attention."""

    model_types: tuple[str, ...] = ("llama", "olmo")

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.core = model.model
        self.config = model.config

    @property
    def n_layers(self) -> int:
        """Number of transformer blocks."""
        return len(self.core.layers)

    @property
    def n_heads(self) -> int:
        """Query heads per layer."""
        return int(self.config.num_attention_heads)

    @property
    def n_kv_heads(self) -> int:
        """Key/value heads per layer."""
        kv = getattr(self.config, "num_key_value_heads", None)
        return self.n_heads if kv is None else int(kv)

    @property
    def d_model(self) -> int:
        """Residual-stream width."""
        return int(self.config.hidden_size)

    @property
    def d_head(self) -> int:
        """Width of one head (``config.head_dim`` where set, which may differ from D / H)."""
        return int(self.core.layers[0].self_attn.head_dim)

    def rotary(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotary tables for every head dim (the model's base and scaling)."""
        return rotary_tables(self.core.rotary_emb, x)

    def attn_scaling(self, layer: int) -> float:
        """Return the attention module's score scale."""
        return float(self.core.layers[layer].self_attn.scaling)

    def _clip(self, qkv: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """Clip projections to ``[-clip_qkv, clip_qkv]`` where the config asks (OLMo 1)."""
        clip = getattr(self.config, "clip_qkv", None)
        return qkv if clip is None else tuple(t.clamp(-clip, clip) for t in qkv)

    def _project(self, layer: int, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """q, k, v of a layer before rotary: (B, T, width) each."""
        attn = self.core.layers[layer].self_attn
        return self._clip((attn.q_proj(x), attn.k_proj(x), attn.v_proj(x)))

    def head_qkv(self, layer: int, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per query head q, k, v from each head's own input, clipped as the forward clips."""
        # The clip is elementwise, so clipping each head's slice is clipping the whole.
        return self._clip(super().head_qkv(layer, x))

    def _write(
        self, layer: int, z: torch.Tensor, want_head_out: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return what attention adds to the stream from head values z, and its per-head parts."""
        out = self.core.layers[layer].self_attn.o_proj(merge_heads(z))
        head_out = self.head_writes(layer, z.transpose(1, 2)) if want_head_out else None
        return out, head_out

    def _attention(
        self,
        layer: int,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor,
        rec: Recorder,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        q, k, v = (split_heads(t, self.d_head) for t in self._project(layer, x))
        batch, seq, _ = x.shape
        rec.values(v, self.n_heads)
        slot = rec.slot("patterns", x, (batch, self.n_heads, seq, seq))
        pattern, z = attend(apply_rotary(q, cos, sin), apply_rotary(k, cos, sin), v,
                            self.attn_scaling(layer), mask, out=slot)
        out, head_out = self._write(layer, z, rec.wants("head_out"))
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
        x = self.core.embed_tokens(input_ids)
        cos, sin = rotary_tables(self.core.rotary_emb, x)
        mask = causal_mask(input_ids, attention_mask, x.dtype)
        rec = Recorder(wanted, x, self.n_layers)
        for i in range(self.n_layers):
            attn_out, pattern, head_out = self._attention(
                i, self.attn_norm(i, x), cos, sin, mask, rec
            )
            mid = x + attn_out
            mlp_out = by_rows(partial(self.mlp, i), self.mlp_norm(i, mid))
            x = mid + mlp_out
            rec.block(x, pattern, head_out, mlp_out, attn_out)
        if not logits:
            return rec.output(None)
        return rec.output(self.model.get_output_embeddings()(self.core.norm(x)))

    def embed_matrix(self) -> torch.Tensor:
        """Token embedding W_E, (V, D)."""
        return self.core.embed_tokens.weight

    def unembed_matrix(self) -> torch.Tensor:
        """Unembedding W_U, (D, V)."""
        return self.model.get_output_embeddings().weight.T

    def _per_query_head(self, t: torch.Tensor) -> torch.Tensor:
        """Repeat key/value-head tensors (H_kv, ...) for the query heads of each group."""
        groups = self.n_heads // self.n_kv_heads
        return t if groups == 1 else t.repeat_interleave(groups, dim=0)

    def qkv_matrices(self, layer: int) -> tuple[torch.Tensor, ...]:
        """Return (W_Q, W_K, W_V, b_Q, b_K, b_V) per query head: (H, D, d_head), (H, d_head)."""
        attn = self.core.layers[layer].self_attn
        mats, biases = [], []
        for lin in (attn.q_proj, attn.k_proj, attn.v_proj):
            weight = lin.weight.view(-1, self.d_head, self.d_model)  # (heads, d_head, D)
            bias = (lin.bias.view(-1, self.d_head) if lin.bias is not None
                    else weight.new_zeros(weight.shape[0], self.d_head))
            mats.append(weight.transpose(1, 2))
            biases.append(bias)
        # Keys and values exist per key/value head; repeat them for their query heads.
        for i in (1, 2):
            mats[i], biases[i] = self._per_query_head(mats[i]), self._per_query_head(biases[i])
        return (*mats, *biases)

    def out_matrix(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (W_O, b_O) as (H, d_head, D) and (D,)."""
        o_proj = self.core.layers[layer].self_attn.o_proj
        w_o = o_proj.weight.view(self.d_model, self.n_heads, self.d_head).permute(1, 2, 0)
        b_o = o_proj.bias if o_proj.bias is not None else o_proj.weight.new_zeros(self.d_model)
        return w_o, b_o

    def attn_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply the block's input norm."""
        return self.core.layers[layer].input_layernorm(x)

    def mlp_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply the post-attention norm (the MLP's input norm)."""
        return self.core.layers[layer].post_attention_layernorm(x)

    def mlp(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply a block's gated MLP."""
        return self.core.layers[layer].mlp(x)

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the final norm."""
        return self.core.norm(x)
