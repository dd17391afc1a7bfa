"""IOI component roles in a circuit (Wang et al. 2022), as Tigges et al. (2024) track them.

Given a circuit (a boolean mask over ``graph.edges``) and the IOI task (prompts such as "When
Mary and John went to the store, John gave a book to": IO = Mary, S = John, S1 and S2 its
first and last occurrence before the end), a head is labelled

* a **name mover** when (a) its edge to the logits is in the circuit, (b) its OV circuit copies
  names and (c) from the final position it attends to IO more than to S1 and to S2 (each
  averaged over examples, clean prompts) by more than ``min_attn_margin``, and to IO at least
  ``min_attn_io`` (without it a head that barely attends to any name, 1e-8 to IO against
  1e-9 to S, would pass). The copy
  test (b), per case (the IO name at its position and the S name at S1, in every example):
  the head's OV, ``LN_l(x) W_V W_O`` with the head's own input norm and without ``b_V W_O``
  (the same for every input, as in TransformerLens), is applied to ``x``, the name token's
  residual after block 0 taken from the clean forward at that position (embedding + block
  0's attention, its output bias and its MLP: Wang et al.'s "embedding after the first MLP",
  exact rather than approximated); a layer-0 head gets the embedding, which is what it reads.
  The output goes through the final norm as if it were the residual (its bias removed, so a
  zero output gives zero logits) and the unembedding. The case succeeds when the name is in
  the top ``top_k`` of the vocabulary, ties counted against it (a zero OV copies nothing).
  The copy rate is the fraction of successful cases.
* an **S-inhibition head** when it has an in-circuit edge into a name mover's query and
  patching those edges (the head's in-circuit q-edges into name movers, each reading the
  head's output on the corrupted prompt instead of the clean one: path patching from the ABC
  distribution, as Wang et al. do to find these heads, rather than mean-ablation) moves the
  name movers' attention from IO to S: attention to IO falls by at least ``min_shift`` and
  attention to S1 + S2 rises by at least ``min_shift`` (attention of the name movers it
  patches into, from the final position, averaged over those name movers and examples).

Swaps of a role between heads over training are found by
:func:`tracker.circuits.role_swaps.role_swaps` from per-checkpoint labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from tracker.circuits.graph import CircuitGraph, Edge, Node
from tracker.circuits.split_forward import ReceiverValues, SplitOutput, embed, split_forward
from tracker.circuits.tasks import CircuitTask
from tracker.labels import HeadId
from tracker.models.base import ArchitectureAdapter


@dataclass(frozen=True)
class RoleConfig:
    """Thresholds of the role tests (module docstring).

    Attributes:
        top_k: A name is copied when it ranks in the top ``top_k`` tokens.
        min_copy_rate: Copy rate a name mover needs (Wang et al.: 10% of cases).
        min_attn_io: Mean attention from the end to IO a name mover needs.
        min_attn_margin: How much more attention IO must get than S1 and than S2. At 0 a
            head attending to both first-clause names alike (0.50 to IO, 0.49 to S1 in the
            organism suite's largest model) would pass, though it is no name mover in Wang et
            al.'s sense, and such near-ties churn between checkpoints into spurious swaps.
        min_shift: Attention mass that patching an S-inhibition head must take from IO, and
            give to S1 + S2.
        batch_size: Examples per forward pass.
    """

    top_k: int = 5
    min_copy_rate: float = 0.1
    min_attn_io: float = 0.1
    min_attn_margin: float = 0.05
    min_shift: float = 0.02
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.batch_size < 1:
            raise ValueError(f"top_k and batch_size must be positive: {self}")
        if not (0.0 <= self.min_copy_rate <= 1.0 and 0.0 <= self.min_attn_io <= 1.0
                and self.min_shift >= 0.0 and self.min_attn_margin >= 0.0):
            raise ValueError(f"min_copy_rate and min_attn_io must lie in [0, 1], min_shift and "
                             f"min_attn_margin be >= 0: {self}")


@dataclass(frozen=True)
class IOIPositions:
    """Where the names sit in the IOI examples kept for role tests.

    Attributes:
        rows: (n,) indices of the kept examples in the task.
        end, io, s1, s2: (n,) positions of the final token, IO, S1 and S2.
        io_token, s_token: (n,) token ids of IO and S.
        n_dropped: Examples without one IO and two S occurrences before the end.
    """

    rows: torch.Tensor
    end: torch.Tensor
    io: torch.Tensor
    s1: torch.Tensor
    s2: torch.Tensor
    io_token: torch.Tensor
    s_token: torch.Tensor
    n_dropped: int = 0


def ioi_positions(task: CircuitTask) -> IOIPositions:
    """Locate IO (first occurrence), S1 and S2 (first, last occurrence of S before the end).

    IO is the example's single answer token and S its single wrong token.

    Raises:
        ValueError: If no example has one answer, one wrong, IO before the end and S twice.
    """
    cols: dict[str, list[int]] = {k: [] for k in ("rows", "end", "io", "s1", "s2", "iot", "st")}
    for row in range(task.n_examples):
        end = int(task.last[row])
        tokens = task.clean[row, :end].tolist()
        if len(task.answers[row]) != 1 or len(task.wrongs[row]) != 1:
            continue
        io, s = task.answers[row][0], task.wrongs[row][0]
        s_at = [i for i, t in enumerate(tokens) if t == s]
        if io not in tokens or len(s_at) < 2:
            continue
        for key, value in zip(cols, (row, end, tokens.index(io), s_at[0], s_at[-1], io, s),
                              strict=True):
            cols[key].append(value)
    if not cols["rows"]:
        raise ValueError(f"task {task.name!r}: no example with IO once and S twice before the end")
    t = {k: torch.tensor(v, dtype=torch.long) for k, v in cols.items()}
    return IOIPositions(t["rows"], t["end"], t["io"], t["s1"], t["s2"], t["iot"], t["st"],
                        task.n_examples - len(cols["rows"]))


@dataclass
class NameMoverScores:
    """Per head (n_layers, n_heads).

    Attributes:
        to_logits: The head's edge to the logits is in the circuit.
        copy_rate: Fraction of name cases its OV puts in the top ``top_k``.
        attn_io, attn_s1, attn_s2: Mean attention from the final position to IO, S1, S2.
        label: Name mover (all three tests pass).
    """

    to_logits: np.ndarray
    copy_rate: np.ndarray
    attn_io: np.ndarray
    attn_s1: np.ndarray
    attn_s2: np.ndarray
    label: np.ndarray


@dataclass
class SInhibitionScores:
    """Per head (n_layers, n_heads); shifts are patched minus clean attention, NaN off candidates.

    Attributes:
        candidate: The head has an in-circuit edge into a name mover's query.
        io_shift, s1_shift, s2_shift: Change of the name movers' mean attention to IO, S1, S2
            when the head's q-edges into them read its corrupted output.
        label: S-inhibition head.
    """

    candidate: np.ndarray
    io_shift: np.ndarray
    s1_shift: np.ndarray
    s2_shift: np.ndarray
    label: np.ndarray


@dataclass(frozen=True)
class RoleRow:
    """One labelled head, flat for a table (NaN where a number does not apply to the role)."""

    role: str
    head: str
    copy_rate: float
    attn_io: float
    attn_s1: float
    attn_s2: float
    io_shift: float
    s_shift: float

    def to_dict(self) -> dict[str, float | str]:
        """Return the row as a JSON-able dict."""
        return asdict(self)


@dataclass
class IOIRoles:
    """Name movers and S-inhibition heads of one circuit at one checkpoint."""

    name_movers: NameMoverScores
    s_inhibition: SInhibitionScores
    n_examples: int
    n_dropped: int

    def rows(self) -> list[RoleRow]:
        """One row per labelled head, name movers first, in layer-major order."""
        nm, si = self.name_movers, self.s_inhibition
        out = []
        for role, label in (("name_mover", nm.label), ("s_inhibition", si.label)):
            for layer, head in zip(*np.nonzero(label), strict=True):
                at = (int(layer), int(head))
                out.append(RoleRow(
                    role, HeadId(*at).label, float(nm.copy_rate[at]), float(nm.attn_io[at]),
                    float(nm.attn_s1[at]), float(nm.attn_s2[at]), float(si.io_shift[at]),
                    float(si.s1_shift[at] + si.s2_shift[at])))
        return out


def _circuit(graph: CircuitGraph, circuit: np.ndarray) -> np.ndarray:
    mask = np.asarray(circuit, dtype=bool)
    if mask.shape != (graph.n_edges,):
        raise ValueError(f"circuit mask has shape {mask.shape}, graph has {graph.n_edges} edges")
    return mask


def _batches(pos: IOIPositions, size: int) -> list[torch.Tensor]:
    return list(torch.arange(len(pos.rows)).split(size))


def _end_attention(patterns: list[torch.Tensor], pos: IOIPositions, sel: torch.Tensor
                   ) -> torch.Tensor:
    """Attention from the end to IO, S1, S2 summed over the batch: (L, H, 3) float64."""
    b = torch.arange(len(sel))
    out = []
    for pattern in patterns:
        rows = pattern.detach().double().cpu()[b, :, pos.end[sel]]  # (B, H, T)
        out.append(torch.stack([rows[b, :, where[sel]] for where in (pos.io, pos.s1, pos.s2)],
                               dim=-1).sum(0))
    return torch.stack(out)


def _copy_hits(adapter: ArchitectureAdapter, out: SplitOutput, pos: IOIPositions, sel: torch.Tensor,
               top_k: int) -> torch.Tensor:
    """Per head, cases whose name the OV ranks in the top ``top_k``: (L, H) summed."""
    b = torch.arange(len(sel))
    after0 = out.inputs.heads[1][:, :, 0, 0] if adapter.n_layers > 1 else out.inputs.logits
    assert after0 is not None
    names = torch.cat([pos.io_token[sel], pos.s_token[sel]]).to(adapter.device)
    w_u = adapter.unembed_matrix()
    bias = adapter.final_norm(torch.zeros_like(w_u[:, 0]))
    hits = []
    for layer in range(adapter.n_layers):
        resid = out.senders[:, :, 0] if layer == 0 else after0
        x = torch.cat([resid[b, pos.io[sel]], resid[b, pos.s1[sel]]])  # (2B, D)
        _, _, w_v, *_ = adapter.qkv_matrices(layer)
        w_o, _ = adapter.out_matrix(layer)
        ov = torch.einsum("nd,hde,hem->hnm", adapter.attn_norm(layer, x), w_v, w_o)
        logits = ((adapter.final_norm(ov) - bias) @ w_u).float()  # (H, 2B, V)
        own = logits.gather(2, names.view(1, -1, 1).expand(len(ov), -1, 1))
        rank = (logits >= own).sum(-1) - 1  # others at least as high: ties count against
        hits.append((rank < top_k).sum(-1).double().cpu())
    return torch.stack(hits)


def name_mover_labels(to_logits: np.ndarray, copy_rate: np.ndarray, attn_io: np.ndarray,
                      attn_s1: np.ndarray, attn_s2: np.ndarray, config: RoleConfig
                      ) -> np.ndarray:
    """Apply the name-mover thresholds to per-head scores (re-labels stored scores too)."""
    margin = attn_io - np.maximum(attn_s1, attn_s2)
    attends = (margin > config.min_attn_margin) & (attn_io >= config.min_attn_io)
    return np.asarray(to_logits, dtype=bool) & (copy_rate >= config.min_copy_rate) & attends


def s_inhibition_labels(io_shift: np.ndarray, s1_shift: np.ndarray, s2_shift: np.ndarray,
                        config: RoleConfig) -> np.ndarray:
    """Apply the S-inhibition thresholds to per-head shifts (NaN: not a candidate)."""
    with np.errstate(invalid="ignore"):  # NaN compares False: non-candidates stay unlabelled
        return (io_shift <= -config.min_shift) & (s1_shift + s2_shift >= config.min_shift)


def _head_node(layer: int, head: int) -> Node:
    return Node(layer, "head", head)


def name_mover_scores(
    adapter: ArchitectureAdapter,
    graph: CircuitGraph,
    task: CircuitTask,
    circuit: np.ndarray,
    config: RoleConfig = RoleConfig(),
) -> NameMoverScores:
    """Score every head on the three name-mover tests (module docstring) and label them."""
    mask = _circuit(graph, circuit)
    pos = ioi_positions(task)
    shape = (graph.n_layers, graph.n_heads)
    attn = torch.zeros(*shape, 3, dtype=torch.float64)
    hits = torch.zeros(shape, dtype=torch.float64)
    with torch.no_grad():
        for sel in _batches(pos, config.batch_size):
            out = split_forward(adapter, graph, embed(adapter, task.clean[pos.rows[sel]]))
            attn += _end_attention(out.patterns, pos, sel)
            hits += _copy_hits(adapter, out, pos, sel, config.top_k)
    n = len(pos.rows)
    mean_attn, copy_rate = (attn / n).numpy(), (hits / (2 * n)).numpy()
    logits = Node(graph.n_layers, "logits")
    in_circuit = {e for e, keep in zip(graph.edges, mask, strict=True) if keep}
    to_logits = np.array([[Edge(_head_node(la, h), logits) in in_circuit
                           for h in range(graph.n_heads)] for la in range(graph.n_layers)])
    io, s1, s2 = mean_attn[..., 0], mean_attn[..., 1], mean_attn[..., 2]
    label = name_mover_labels(to_logits, copy_rate, io, s1, s2, config)
    return NameMoverScores(to_logits, copy_rate, io, s1, s2, label)


def s_inhibition_scores(
    adapter: ArchitectureAdapter,
    graph: CircuitGraph,
    task: CircuitTask,
    circuit: np.ndarray,
    name_movers: np.ndarray,
    config: RoleConfig = RoleConfig(),
) -> SInhibitionScores:
    """Patch each candidate's q-edges into the name movers and label S-inhibition heads.

    Args:
        adapter: The model.
        graph: Its graph.
        task: The IOI task (clean and ABC-corrupted prompts).
        circuit: (n_edges,) boolean mask over ``graph.edges``.
        name_movers: (n_layers, n_heads) boolean name-mover labels.
        config: Thresholds.
    """
    mask = _circuit(graph, circuit)
    pos = ioi_positions(task)
    shape = (graph.n_layers, graph.n_heads)
    # Candidate head -> the in-circuit q-edges it sends into name movers.
    patch: dict[tuple[int, int], list[int]] = {}
    for i, edge in enumerate(graph.edges):
        rec, snd = edge.receiver, edge.sender
        if (mask[i] and edge.channel == "q" and snd.kind == "head" and rec.kind == "head"
                and name_movers[rec.layer, rec.head]):
            patch.setdefault((snd.layer, snd.head), []).append(i)
    shifts = {c: torch.zeros(3, dtype=torch.float64) for c in patch}
    with torch.no_grad():
        for sel in _batches(pos, config.batch_size):
            rows = pos.rows[sel]
            clean_embeds = embed(adapter, task.clean[rows])
            clean = _end_attention(split_forward(adapter, graph, clean_embeds).patterns, pos, sel)
            corrupt = split_forward(adapter, graph, embed(adapter, task.corrupt[rows])).senders
            for cand, edges in patch.items():
                values = np.zeros(graph.n_edges)
                values[edges] = 1.0
                patched = split_forward(adapter, graph, clean_embeds, corrupt,
                                        ReceiverValues.from_edges(graph, values))
                movers = sorted({(graph.edges[i].receiver.layer, graph.edges[i].receiver.head)
                                 for i in edges})
                delta = _end_attention(patched.patterns, pos, sel) - clean
                shifts[cand] += torch.stack([delta[at] for at in movers]).mean(0)
    n = len(pos.rows)
    out = np.full((3, *shape), np.nan)
    for (layer, head), total in shifts.items():
        out[:, layer, head] = (total / n).numpy()
    return SInhibitionScores(~np.isnan(out[0]), out[0], out[1], out[2],
                             s_inhibition_labels(out[0], out[1], out[2], config))


def ioi_roles(
    adapter: ArchitectureAdapter,
    graph: CircuitGraph,
    task: CircuitTask,
    circuit: np.ndarray,
    config: RoleConfig = RoleConfig(),
) -> IOIRoles:
    """Name movers, then the S-inhibition heads that act on them, for one circuit."""
    movers = name_mover_scores(adapter, graph, task, circuit, config)
    inhibition = s_inhibition_scores(adapter, graph, task, circuit, movers.label, config)
    pos = ioi_positions(task)
    return IOIRoles(movers, inhibition, len(pos.rows), pos.n_dropped)
