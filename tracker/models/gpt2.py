"""Hooked forward for Hugging Face GPT-2 models (OpenAI GPT-2, Stanford CRFM's runs, user runs).

GPT-2 stores its projections as ``Conv1D`` modules whose weight is (in, out), the transpose
of ``nn.Linear``: the fused ``c_attn`` maps D to [q (all heads) | k | v], each ``H * d_head``
wide, and ``c_proj`` maps ``H * d_head`` to D, so ``c_proj.weight.view(H, d_head, D)`` is
W_O as it is. Positions are learned (``wpe``, added to the token embedding); blocks are
sequential with pre-norm LayerNorms; the unembedding is tied to ``wte``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from tracker.models.attention import (
    Recorder,
    attend,
    by_rows,
    causal_mask,
    merge_heads,
    split_heads,
)
from tracker.models.base import ArchitectureAdapter, Capture, HookedOutput, check_capture
from tracker.models.registry import register_architecture


@register_architecture
class GPT2Adapter(ArchitectureAdapter):
    """GPT-2: Conv1D weights, fused ``c_attn``, learned positions, sequential residual."""

    model_types = ("gpt2",)

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.core = model.transformer
        self.config = model.config

    @property
    def n_layers(self) -> int:
        """Number of transformer blocks."""
        return len(self.core.h)

    @property
    def n_heads(self) -> int:
        """Attention heads per layer."""
        return int(self.config.n_head)

    @property
    def d_model(self) -> int:
        """Residual-stream width."""
        return int(self.config.n_embd)

    @property
    def n_ctx(self) -> int:
        """Number of learned positions."""
        return int(self.config.n_positions)

    def attn_scaling(self, layer: int) -> float:
        """Return the attention module's score scale."""
        # attn.scaling folds GPT-2's options (1/sqrt(d_head), 1/(layer + 1)) into one factor.
        return float(self.core.h[layer].attn.scaling)

    def _attention(
        self, layer: int, x: torch.Tensor, mask: torch.Tensor, rec: Recorder
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        attn = self.core.h[layer].attn
        q, k, v = (split_heads(part, self.d_head) for part in attn.c_attn(x).split(self.d_model, 2))
        batch, seq, _ = x.shape
        rec.values(v, self.n_heads)
        slot = rec.slot("patterns", x, (batch, self.n_heads, seq, seq))
        pattern, z = attend(q, k, v, self.attn_scaling(layer), mask, out=slot)
        out = attn.c_proj(merge_heads(z))
        want = rec.wants("head_out")
        head_out = self.head_writes(layer, z.transpose(1, 2)) if want else None
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
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.core.wte(input_ids) + self.core.wpe(positions)[None]
        mask = causal_mask(input_ids, attention_mask, x.dtype)
        rec = Recorder(wanted, x, self.n_layers)
        for i, block in enumerate(self.core.h):
            attn_out, pattern, head_out = self._attention(
                i, block.ln_1(x), mask, rec
            )
            mid = x + attn_out
            mlp_out = by_rows(block.mlp, block.ln_2(mid))
            x = mid + mlp_out
            rec.block(x, pattern, head_out, mlp_out, attn_out)
        if not logits:
            return rec.output(None)
        return rec.output(self.model.get_output_embeddings()(self.core.ln_f(x)))

    def embed_matrix(self) -> torch.Tensor:
        """Token embedding W_E, (V, D)."""
        return self.core.wte.weight

    def pos_embed_matrix(self) -> torch.Tensor:
        """Learned position embedding W_pos, (n_ctx, D)."""
        return self.core.wpe.weight

    def unembed_matrix(self) -> torch.Tensor:
        """Unembedding W_U, (D, V) (tied to W_E in released GPT-2s)."""
        return self.model.get_output_embeddings().weight.T

    def qkv_matrices(self, layer: int) -> tuple[torch.Tensor, ...]:
        """Return (W_Q, W_K, W_V, b_Q, b_K, b_V) as (H, D, d_head) and (H, d_head) views."""
        c_attn = self.core.h[layer].attn.c_attn
        n_heads, d_head, d_model = self.n_heads, self.d_head, self.d_model
        weight = c_attn.weight.view(d_model, 3, n_heads, d_head)
        mats = [weight[:, j].permute(1, 0, 2) for j in range(3)]
        bias = c_attn.bias.view(3, n_heads, d_head)
        return (*mats, *(bias[j] for j in range(3)))

    def out_matrix(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (W_O, b_O) as (H, d_head, D) and (D,) views of ``c_proj``."""
        c_proj = self.core.h[layer].attn.c_proj
        return c_proj.weight.view(self.n_heads, self.d_head, self.d_model), c_proj.bias

    def attn_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply ``ln_1``."""
        return self.core.h[layer].ln_1(x)

    def mlp_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply ``ln_2``."""
        return self.core.h[layer].ln_2(x)

    def mlp(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply a block's MLP."""
        return self.core.h[layer].mlp(x)

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``ln_f``."""
        return self.core.ln_f(x)
