"""The computational graph that circuits are found in: components as nodes, reads as edges.

Nodes are the input (the embeddings), every attention head, every MLP and the logits. Every
component that writes to the residual stream sends an edge to every component downstream that
reads it; a head reads through its query, key and value separately, so each sender gives a head
three edges (``q``, ``k``, ``v``). In a parallel block (GPT-NeoX, GPT-J) the MLP reads the same
residual stream as the attention of its layer, so it does not read that layer's heads; in a
sequential block (GPT-2, Llama) it does.

This construction gives 3,580 edges for a 6-layer x 8-head parallel model (pythia-70m), 32,347
for 12 x 12 (pythia-160m) and 3,628 for a sequential 6 x 8 model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from tracker.labels import HeadId
from tracker.models.base import ArchitectureAdapter

NodeKind = Literal["input", "head", "mlp", "logits"]
#: How a receiver reads its input: a head's query, key or value; '' for MLPs and logits.
Channel = Literal["q", "k", "v", ""]


@dataclass(frozen=True, order=True)
class Node:
    """One component.

    Attributes:
        layer: Layer of a head or MLP; -1 for the input, ``n_layers`` for the logits.
        kind: ``input``, ``head``, ``mlp`` or ``logits``.
        head: Head index within its layer; -1 for everything else.
    """

    layer: int
    kind: NodeKind
    head: int = -1

    @property
    def name(self) -> str:
        """``input``, ``L1H3`` (the head label used everywhere), ``mlp1`` or ``logits``."""
        if self.kind == "head":
            return HeadId(self.layer, self.head).label
        return f"mlp{self.layer}" if self.kind == "mlp" else self.kind


@dataclass(frozen=True)
class Edge:
    """A read of one component's output by another.

    Attributes:
        sender: The writer.
        receiver: The reader.
        channel: ``q``, ``k`` or ``v`` into a head; '' otherwise.
    """

    sender: Node
    receiver: Node
    channel: Channel = ""

    @property
    def name(self) -> str:
        """``input->L1H3.q``, ``L0H2->mlp1``, ``mlp3->logits``."""
        suffix = f".{self.channel}" if self.channel else ""
        return f"{self.sender.name}->{self.receiver.name}{suffix}"


@dataclass(frozen=True)
class CircuitGraph:
    """The graph of one architecture shape.

    Attributes:
        n_layers: Transformer blocks.
        n_heads: Attention heads per layer.
        parallel: Whether attention and MLP of a block read the same residual stream.
    """

    n_layers: int
    n_heads: int
    parallel: bool

    @classmethod
    def from_config(cls, config: Any) -> CircuitGraph:
        """Build the graph from a Hugging Face config alone (no weights needed).

        Reads ``num_hidden_layers`` / ``n_layer``, ``num_attention_heads`` / ``n_head`` and
        ``use_parallel_residual`` (GPT-NeoX; default False for other architectures).

        Raises:
            ValueError: If the config names no layer or head count.
        """
        layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
        heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", None)
        if not layers or not heads:
            raise ValueError(f"config of {getattr(config, 'model_type', '?')!r} names no layer "
                             "or head count")
        return cls(int(layers), int(heads), bool(getattr(config, "use_parallel_residual", False)))

    @classmethod
    def from_adapter(cls, adapter: ArchitectureAdapter) -> CircuitGraph:
        """Build the graph of a loaded model: its layers, (query) heads and block type.

        The block rule is the adapter's ``parallel_residual``, the switch its own forward
        uses, so the graph and the split forward agree for every architecture.
        """
        return cls(adapter.n_layers, adapter.n_heads, adapter.parallel_residual)

    @cached_property
    def nodes(self) -> tuple[Node, ...]:
        """Every node, in the order information flows (input, then per layer heads and MLP)."""
        out = [Node(-1, "input")]
        for layer in range(self.n_layers):
            out += [Node(layer, "head", h) for h in range(self.n_heads)]
            out.append(Node(layer, "mlp"))
        out.append(Node(self.n_layers, "logits"))
        return tuple(out)

    def senders(self, receiver: Node) -> list[Node]:
        """Return the components whose output ``receiver`` reads."""
        def upstream(node: Node) -> bool:
            if node.kind == "input":
                return True
            if node.layer < receiver.layer:
                return True
            # Same layer: only a sequential MLP reads its own layer's heads.
            return (node.layer == receiver.layer and node.kind == "head"
                    and receiver.kind == "mlp" and not self.parallel)

        return [n for n in self.nodes if n.kind != "logits" and n != receiver and upstream(n)]

    def _edges(self) -> Iterator[Edge]:
        for receiver in self.nodes:
            if receiver.kind == "input":
                continue
            channels: tuple[Channel, ...] = ("q", "k", "v") if receiver.kind == "head" else ("",)
            for sender in self.senders(receiver):
                for channel in channels:
                    yield Edge(sender, receiver, channel)

    @cached_property
    def edges(self) -> tuple[Edge, ...]:
        """Every edge, grouped by receiver in flow order."""
        return tuple(self._edges())

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return len(self.edges)
