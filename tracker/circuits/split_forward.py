"""A forward in which every receiver reads the sum of its senders, edge by edge.

It runs on every registered architecture through the adapter interface
(:class:`~tracker.models.base.ArchitectureAdapter`): norms, each head's q/k/v from its own
input (``head_qkv``: OLMo 1's clip and OLMo 2's QK-norm included), the model's rotary tables
and score scale, each head's write (``head_writes``: OLMo 2's post-attention norm, decided in
:mod:`tracker.models.olmo2`) and the MLP. The graph's block rule (parallel or sequential) is
the adapter's ``parallel_residual`` (:meth:`CircuitGraph.from_adapter`).

Senders are the input (token embeddings plus GPT-2's learned positions), every head and every
MLP, indexed in the graph's node order (input = 0, then per layer its heads and its MLP). Each
receiver input (a head's q, k or v input, an MLP's input, the logits' input) is built as the
sum of its senders' outputs from :class:`~tracker.circuits.graph.CircuitGraph`, plus the
attention output biases of the layers upstream (constants, not edges). With no patch this is
the model's own forward. Given the senders' outputs on corrupted prompts and an edge mask, a
masked edge's receiver reads the corrupted output of its sender in place of the clean one, for
that edge only.

Inputs are unpadded batches of equal length.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from tracker.circuits.graph import CircuitGraph, Edge
from tracker.models.attention import apply_rotary, attend, causal_mask
from tracker.models.base import ArchitectureAdapter

_CHANNEL = {"q": 0, "k": 1, "v": 2}


def sender_index(graph: CircuitGraph, edge: Edge) -> int:
    """Return the sender's position along the senders axis (graph node order, input = 0)."""
    node = edge.sender
    if node.kind == "input":
        return 0
    start = 1 + node.layer * (graph.n_heads + 1)
    return start + (node.head if node.kind == "head" else graph.n_heads)


def n_senders_into_heads(graph: CircuitGraph, layer: int) -> int:
    """Return how many senders the heads of ``layer`` read (the first ones in node order)."""
    return 1 + layer * (graph.n_heads + 1)


def n_senders_into_mlp(graph: CircuitGraph, layer: int) -> int:
    """Return how many senders the MLP of ``layer`` reads."""
    return n_senders_into_heads(graph, layer) + (0 if graph.parallel else graph.n_heads)


@functools.lru_cache(maxsize=8)
def _layout(graph: CircuitGraph) -> tuple[np.ndarray, tuple[tuple[int, ...], ...]]:
    """Where each edge sits in the receivers' blocks laid end to end (heads, MLPs, logits).

    Returns each edge's flat position and the blocks' shapes; cached, since a graph is
    immutable and building masks edge by edge in Python is slow for large graphs.
    """
    shapes = tuple([(3, graph.n_heads, n_senders_into_heads(graph, i))
                    for i in range(graph.n_layers)]
                   + [(n_senders_into_mlp(graph, i),) for i in range(graph.n_layers)]
                   + [(n_senders_into_heads(graph, graph.n_layers),)])
    offsets = np.cumsum([0] + [int(np.prod(shape)) for shape in shapes])
    positions = np.empty(graph.n_edges, dtype=np.int64)
    for i, edge in enumerate(graph.edges):
        rec, sender = edge.receiver, sender_index(graph, edge)
        if rec.kind == "head":
            n_send = n_senders_into_heads(graph, rec.layer)
            within = (_CHANNEL[edge.channel] * graph.n_heads + rec.head) * n_send + sender
            positions[i] = offsets[rec.layer] + within
        elif rec.kind == "mlp":
            positions[i] = offsets[graph.n_layers + rec.layer] + sender
        else:
            positions[i] = offsets[-2] + sender
    return positions, shapes


@dataclass
class ReceiverValues:
    """One value per edge, laid out by receiver (masks, gradients or scores).

    Attributes:
        heads: Per layer, (..., 3, H, S_l) over channel (q, k, v), head and sender.
        mlps: Per layer, (..., S_l) over sender.
        logits: (..., S) over sender.
    """

    heads: list[torch.Tensor] = field(default_factory=list)
    mlps: list[torch.Tensor] = field(default_factory=list)
    logits: torch.Tensor | None = None

    @classmethod
    def from_edges(cls, graph: CircuitGraph, values: np.ndarray | torch.Tensor,
                   dtype: torch.dtype = torch.float32) -> ReceiverValues:
        """Lay out one value per ``graph.edges`` entry by receiver (missing slots are 0)."""
        positions, shapes = _layout(graph)
        vals = torch.as_tensor(np.asarray(values, dtype=np.float64)).to(dtype)
        if vals.shape != (graph.n_edges,):
            raise ValueError(f"{tuple(vals.shape)} values for {graph.n_edges} edges")
        flat = torch.zeros(sum(int(np.prod(shape)) for shape in shapes), dtype=dtype)
        flat[torch.as_tensor(positions)] = vals
        blocks = [b.reshape(shape) for b, shape in zip(
            flat.split([int(np.prod(shape)) for shape in shapes]), shapes, strict=True)]
        n = graph.n_layers
        return cls(heads=blocks[:n], mlps=blocks[n:2 * n], logits=blocks[-1])

    def _target(self, edge: Edge) -> tuple[torch.Tensor, tuple[int, ...]]:
        rec = edge.receiver
        if rec.kind == "head":
            return self.heads[rec.layer], (_CHANNEL[edge.channel], rec.head)
        if rec.kind == "mlp":
            return self.mlps[rec.layer], ()
        assert self.logits is not None
        return self.logits, ()

    def slot(self, graph: CircuitGraph, edge: Edge, value: torch.Tensor) -> None:
        """Set the value of one edge."""
        tensor, where = self._target(edge)
        tensor[(*where, sender_index(graph, edge))] = value

    def to_edges(self, graph: CircuitGraph) -> np.ndarray:
        """Return the values in ``graph.edges`` order, as float32."""
        assert self.logits is not None
        positions, _ = _layout(graph)
        flat = torch.cat([t.detach().reshape(-1).float().cpu()
                          for t in (*self.heads, *self.mlps, self.logits)])
        return flat[torch.as_tensor(positions)].numpy().astype(np.float32)

    def to(self, device: torch.device, dtype: torch.dtype) -> ReceiverValues:
        """Return a copy on ``device`` in ``dtype``."""
        assert self.logits is not None
        return ReceiverValues([h.to(device, dtype) for h in self.heads],
                              [m.to(device, dtype) for m in self.mlps],
                              self.logits.to(device, dtype))


@dataclass
class SplitOutput:
    """The result of a split forward.

    Attributes:
        logits: (B, T, V).
        senders: (B, T, S, D) every sender's output (input, heads, MLPs in node order).
        inputs: The receivers' inputs before their norm: heads (B, T, 3, H, D) per layer, MLPs
            (B, T, D) per layer, logits (B, T, D). Gradients of a metric w.r.t. these are the
            ones EAP needs.
        patterns: Per layer, the attention patterns (B, H, T, T) (query, key); kept always, as
            the forward holds them anyway (and autograd keeps them for the backward).
    """

    logits: torch.Tensor
    senders: torch.Tensor
    inputs: ReceiverValues
    patterns: list[torch.Tensor] = field(default_factory=list)


def _read(outs: list[torch.Tensor], n: int, bias: torch.Tensor, mask: torch.Tensor | None,
          corrupt: torch.Tensor | None, spec: str) -> torch.Tensor:
    """Sum the first ``n`` senders (+ bias); masked edges read ``corrupt`` instead."""
    stacked = torch.stack(outs[:n], dim=2)  # (B, T, n, D)
    base = stacked.sum(dim=2) + bias
    if mask is None or corrupt is None:
        return base
    delta = corrupt[:, :, :n] - stacked
    patched = torch.einsum(spec, delta, mask)
    if patched.dim() == base.dim():
        return base + patched
    return base[:, :, None, None] + patched


def split_forward(
    adapter: ArchitectureAdapter,
    graph: CircuitGraph,
    embeds: torch.Tensor,
    corrupt: torch.Tensor | None = None,
    mask: ReceiverValues | None = None,
) -> SplitOutput:
    """Run the model with every receiver reading the sum of its senders.

    Args:
        adapter: The adapter whose weights, norms and attention are used.
        graph: The model's graph (same shape as the adapter).
        embeds: (B, T, D) input embeddings (the input node's output, :func:`embed`).
        corrupt: (B, T, S, D) senders' outputs on the corrupted prompts (from a split forward
            of them), needed with ``mask``.
        mask: 1 on the edges whose receiver reads the corrupted sender output (fractions
            interpolate), 0 elsewhere.

    Returns:
        Logits, the senders' outputs, the receivers' inputs and the attention patterns.
    """
    batch, seq, _ = embeds.shape
    n_heads = adapter.n_heads
    if mask is not None:
        mask = mask.to(embeds.device, embeds.dtype)
    rotary = adapter.rotary(embeds)
    attn_mask = causal_mask(embeds[:, :, 0], None, embeds.dtype)  # reads only shape and device

    outs: list[torch.Tensor] = [embeds]
    bias = torch.zeros_like(embeds[0, 0])
    inputs = ReceiverValues()
    patterns: list[torch.Tensor] = []
    for layer in range(adapter.n_layers):
        x = _read(outs, n_senders_into_heads(graph, layer), bias,
                  None if mask is None else mask.heads[layer], corrupt, "btsd,chs->btchd")
        if x.dim() == 3:
            x = x[:, :, None, None].expand(batch, seq, 3, n_heads, x.shape[-1])
        inputs.heads.append(x)
        q, k, v = adapter.head_qkv(layer, adapter.attn_norm(layer, x))
        if rotary is not None:
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        pattern, z = attend(q, k, v, adapter.attn_scaling(layer), attn_mask)
        patterns.append(pattern)
        heads = list(adapter.head_writes(layer, z.transpose(1, 2)).unbind(dim=2))
        b_o = adapter.out_matrix(layer)[1].to(embeds.dtype)
        mlp_bias = bias if graph.parallel else bias + b_o
        mlp_in = _read(outs + heads, n_senders_into_mlp(graph, layer), mlp_bias,
                       None if mask is None else mask.mlps[layer], corrupt, "btsd,s->btd")
        inputs.mlps.append(mlp_in)
        outs += heads
        outs.append(adapter.mlp(layer, adapter.mlp_norm(layer, mlp_in)))
        bias = bias + b_o
    final = _read(outs, len(outs), bias, None if mask is None else mask.logits, corrupt,
                  "btsd,s->btd")
    inputs.logits = final
    logits = adapter.final_norm(final) @ adapter.unembed_matrix()
    return SplitOutput(logits, torch.stack(outs, dim=2), inputs, patterns)


def embed(adapter: ArchitectureAdapter, tokens: torch.Tensor) -> torch.Tensor:
    """Return the input node's output (B, T, D): token embeddings, plus learned positions.

    Positions 0..T-1 of the prompt, as the model's forward adds them (GPT-2); rotary models
    get theirs inside attention.
    """
    tokens = tokens.to(adapter.device)
    out = adapter.embed_matrix()[tokens]
    positions = adapter.pos_embed_matrix()
    if positions is not None:
        out = out + positions[: tokens.shape[-1]]
    return out
