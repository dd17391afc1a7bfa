"""The architecture-adapter interface and the outputs of a hooked forward pass."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import torch

#: Activations a hooked forward can return (fields of :class:`HookedOutput`).
#: ``logits`` matters to :class:`tracker.probes.ProbeContext`, which computes them only when a
#: probe asks: at a 50k vocabulary the unembedding is over half a small model's forward.
Capture = Literal["logits", "resid", "patterns", "head_out", "mlp_out", "attn_out",
                  "value_norms"]
CAPTURE_FIELDS: tuple[Capture, ...] = get_args(Capture)


def check_capture(capture: Iterable[str]) -> frozenset[Capture]:
    """Return ``capture`` as a set of known activation names.

    Raises:
        ValueError: Naming any unknown activation (a typo would otherwise be captured as None).
    """
    names = frozenset(capture)
    unknown = sorted(names - frozenset(CAPTURE_FIELDS))
    if unknown:
        raise ValueError(f"unknown activation(s) {', '.join(map(repr, unknown))} "
                         f"(known: {', '.join(CAPTURE_FIELDS)})")
    return names  # type: ignore[return-value]  # every name was just checked


@dataclass
class HookedOutput:
    """Activations of one forward pass; fields not requested are None.

    Shapes (L layers, B batch, T positions, H heads, D model width, V vocab):

    Attributes:
        logits: (B, T, V); None when the pass was run with ``logits=False``.
        resid: (L + 1, B, T, D); index 0 is the embedding, index l + 1 the stream after layer l
            (before the final layer norm).
        patterns: (L, B, H, T, T) attention probabilities, query by key.
        head_out: (L, B, T, H, D) each head's output through its slice of the output projection,
            before the heads are summed (the projection bias is not included; where a norm
            follows attention, as in OLMo 2, each head is scaled by that norm's per-position
            factor, so heads plus bias always sum to ``attn_out``). Per query head under
            grouped-query attention, as are ``patterns``.
        mlp_out: (L, B, T, D) MLP outputs.
        attn_out: (L, B, T, D) attention-layer outputs (sum of heads plus the projection bias).
        value_norms: (L, B, H, T) float32 norm of each head's value vector (bias included) at
            each position, as the pass computed it; per query head under grouped-query
            attention. A few bytes per position where the vectors would be ``d_head`` floats.
    """

    logits: torch.Tensor | None = None
    resid: torch.Tensor | None = None
    patterns: torch.Tensor | None = None
    head_out: torch.Tensor | None = None
    mlp_out: torch.Tensor | None = None
    attn_out: torch.Tensor | None = None
    value_norms: torch.Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def require(self, name: Capture) -> torch.Tensor:
        """Return a captured activation.

        Raises:
            ValueError: If ``name`` was not captured in this pass.
        """
        check_capture([name])
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"activation {name!r} was not captured in this forward pass")
        return value


class ArchitectureAdapter(abc.ABC):
    """Hooked forwards and circuit weights read from a loaded Hugging Face model.

    The adapter reads the module's own parameters: no weights are copied or converted.
    """

    #: Hugging Face ``config.model_type`` values this adapter handles.
    model_types: tuple[str, ...] = ()

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    @abc.abstractmethod
    def n_layers(self) -> int:
        """Number of transformer blocks."""

    @property
    @abc.abstractmethod
    def n_heads(self) -> int:
        """Attention heads per layer."""

    @property
    @abc.abstractmethod
    def d_model(self) -> int:
        """Residual-stream width."""

    @property
    def d_head(self) -> int:
        """Width of one head."""
        return self.d_model // self.n_heads

    @property
    def n_kv_heads(self) -> int:
        """Key/value heads per layer (fewer than ``n_heads`` under grouped-query attention).

        Weight accessors and captured activations are always per query head: query head
        ``h`` reads key/value head ``h // (n_heads // n_kv_heads)``.
        """
        return self.n_heads

    @property
    def n_ctx(self) -> int:
        """Longest input the model takes (its position limit)."""
        return int(self.model.config.max_position_embeddings)

    @property
    def vocab_size(self) -> int:
        """Rows of the embedding (may exceed the tokenizer's vocabulary, as in Pythia)."""
        return int(self.model.config.vocab_size)

    @property
    def bos_token_id(self) -> int | None:
        """The model's beginning-of-sequence token, or None."""
        bos = getattr(self.model.config, "bos_token_id", None)
        return None if bos is None else int(bos)

    @property
    def device(self) -> torch.device:
        """Device of the model's parameters."""
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the model's parameters."""
        return next(self.model.parameters()).dtype

    @abc.abstractmethod
    def forward(
        self,
        input_ids: torch.Tensor,
        capture: Iterable[Capture] = (),
        attention_mask: torch.Tensor | None = None,
        logits: bool = True,
    ) -> HookedOutput:
        """Run the model, returning logits and the requested activations.

        Args:
            input_ids: (B, T) token ids.
            capture: Activations to keep (``logits`` in it is accepted and changes nothing).
            attention_mask: (B, T) 1 for real tokens, 0 for padding.
            logits: Apply the final norm and unembedding; False skips them (``logits`` of
                the output is then None).

        Implementations pass ``capture`` through :func:`check_capture` first.
        """

    # Weights for circuit analysis: (H, D, d_head) maps read from the residual stream,
    # (H, d_head, D) maps write to it, following TransformerLens conventions.
    @abc.abstractmethod
    def embed_matrix(self) -> torch.Tensor:
        """Token embedding W_E, (V, D)."""

    def pos_embed_matrix(self) -> torch.Tensor | None:
        """Learned position embedding W_pos, (n_ctx, D), added to W_E at the input.

        None when positions enter only through rotary attention (GPT-NeoX, Llama, OLMo).
        """
        return None

    @abc.abstractmethod
    def unembed_matrix(self) -> torch.Tensor:
        """Unembedding W_U, (D, V)."""

    @abc.abstractmethod
    def qkv_matrices(self, layer: int) -> tuple[torch.Tensor, ...]:
        """Return (W_Q, W_K, W_V, b_Q, b_K, b_V): (H, D, d_head) weights, (H, d_head) biases."""

    @abc.abstractmethod
    def out_matrix(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (W_O, b_O): (H, d_head, D) and (D,).

        ``head_out`` of a forward pass is ``z[h] @ W_O[h]`` (times a per-position scale where
        a norm follows attention, as in OLMo 2), so heads plus ``b_O`` sum to ``attn_out``.
        """

    def head_writes(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        """Return each head's write to the stream given each head's mixed values.

        Args:
            layer: The layer.
            z: (..., H, d_head) per-head results of attention (pattern times values).

        Returns:
            (..., H, D): ``z[h] W_O[h]`` here (where a norm follows attention, as in OLMo 2,
            times its per-position scale), so heads plus ``b_O`` sum to :meth:`attn_output`.
            This is ``head_out`` of a forward pass and a head's output in the circuit graph.
        """
        w_o, _ = self.out_matrix(layer)
        return torch.einsum("...hd,hdm->...hm", z, w_o.to(z.dtype))

    def attn_output(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        """Return what attention adds to the stream given each head's mixed values.

        Args:
            layer: The layer.
            z: (..., H, d_head) per-head results of attention (pattern times values).

        Returns:
            (..., D): ``sum_h z[h] W_O[h] + b_O`` here; architectures with a norm after
            attention (OLMo 2) apply it, so this is always the block's attention output.
        """
        w_o, b_o = self.out_matrix(layer)
        return torch.einsum("...hd,hdm->...m", z, w_o.to(z.dtype)) + b_o.to(z.dtype)

    def head_qkv(self, layer: int, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return every query head's query, key and value, each read from its own input.

        The circuit graph gives every head's q, k and v a residual stream of its own (edges
        are patched per head and channel); with one stream for all of them this is the
        forward's projection (keys and values repeated per query head under grouped-query
        attention).

        Args:
            layer: The layer.
            x: (B, T, 3, H, D) the normed inputs of each head's query, key and value.

        Returns:
            (q, k, v), each (B, H, T, d_head), before rotary. Linear maps here (``W x + b``
            from :meth:`qkv_matrices`); architectures that clip (OLMo 1) or normalise (OLMo
            2's QK-norm) the projections override this.
        """
        mats = self.qkv_matrices(layer)
        return tuple(
            torch.einsum("bthd,hde->bhte", x[:, :, c], mats[c].to(x.dtype))
            + mats[3 + c].to(x.dtype)[None, :, None]
            for c in range(3)
        )

    def rotary(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Return the rotary tables (cos, sin) for positions 0..T-1 of x (B, T, D).

        Each is (1, 1, T, r) for the r rotated dims of a head (the forward's own tables);
        None where positions are not rotary (GPT-2's are learned: :meth:`pos_embed_matrix`).
        """
        return None

    def attn_scaling(self, layer: int) -> float:
        """Return the factor attention scores are multiplied by (1/sqrt(d_head) here).

        Adapters return what their attention module uses (GPT-2's options fold into it).
        """
        return float(self.d_head) ** -0.5

    @abc.abstractmethod
    def attn_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer norm in front of attention (the identity where there is none)."""

    @abc.abstractmethod
    def mlp_norm(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer norm in front of the MLP (the identity where there is none)."""

    @abc.abstractmethod
    def mlp(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Apply the MLP of a layer without its input norm, with any norm after it (OLMo 2).

        ``mlp(layer, mlp_norm(layer, x))`` is what the block adds to the stream.
        """

    @abc.abstractmethod
    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the final layer norm."""

    @property
    def parallel_residual(self) -> bool:
        """Whether attention and MLP read the same residual (GPT-J/NeoX style).

        False for sequential blocks (GPT-2, Llama, OLMo), where the MLP reads the residual
        after the attention output was added.
        """
        return False
