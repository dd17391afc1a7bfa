"""A planted GPT-NeoX model that solves IOI with Wang et al.'s circuit, head by head.

Built on :class:`tests.support.planted_models.PlantedBuilder` (one-hot residual blocks; see
that module). Prompts follow one template, ``When A and B went to the store , S gave a book
to`` (S2 is 4 tokens before the end); a *name* flag marks the name tokens. Residual blocks:
tokens (``0..V-1``), previous token (``V..2V-1``), the flag, duplicates, inhibition.

* L0H0, previous-token head.
* L1H0, induction head used as a duplicate detector (a duplicate-token head attending to
  the token itself would match itself): at S2 it attends to S1 + 1, whose previous token is
  S, and writes that previous token (S) into the duplicate block. On an ABC-corrupted
  prompt S2 has no earlier copy and the head spreads its attention over the prefix.
* L2H0, S-inhibition head: attends 4 tokens back (S2, from the end) and moves the
  duplicate block into the inhibition block.
* L3H0, name mover: its query reads the inhibition block and its key the token block with
  opposite signs, so a name seen as duplicated is suppressed; a flag term makes it attend to
  names only. So it attends to IO; its OV copies names into the logits.
* L3H1 attends like L3H0 but has no OV (fails the copy test); L3H2 copies names but attends
  to S2 (fails the attention test). Every other head is zero (3 heads of width 64 a layer).
"""

from __future__ import annotations

import math

import torch

from tests.support.planted_models import ROTARY, Planted, PlantedBuilder
from tracker.circuits.tasks import CircuitTask

NAMES = ["Mary", "John", "Anna", "Paul", "Kate", "Tom", "Lucy", "Bob"]
TEMPLATE = "When {A} and {B} went to the store , {S} gave a book to"
WORDS = NAMES + ["When", "and", "went", "to", "the", "store", ",", "gave", "a", "book"]
#: Planted roles: head -> role.
ROLES = {(0, 0): "previous_token", (1, 0): "duplicate", (2, 0): "s_inhibition",
         (3, 0): "name_mover", (3, 1): "attends_io_no_ov", (3, 2): "copies_attends_s2"}


def _ov(builder: PlantedBuilder, layer: int, head: int, src: list[int], dst: list[int],
        scale: float) -> None:
    """OV writes ``scale * e_dst[j]`` (after the ~sqrt(D) gain of the input norm) for src[j]."""
    gain = math.sqrt(builder.D)
    for j, (s, d) in enumerate(zip(src, dst, strict=True)):
        builder.W_V[layer, head, s, j] = 1.0
        builder.W_O[layer, head, j, d] = scale / gain


def _ioi_qk(builder: PlantedBuilder, layer: int, head: int, names: list[int], inhib: int,
            qk: float = 4.0, flag: float = 6.0) -> None:
    """Query (inhibition block) against key (token block) with opposite signs, + name flag."""
    for t in names:
        builder.W_Q[layer, head, inhib + t, ROTARY + t] = qk
        builder.W_K[layer, head, t, ROTARY + t] = -qk
    builder.b_Q[layer, head, ROTARY + builder.V] = flag
    builder.W_K[layer, head, builder.flag_dim["name"], ROTARY + builder.V] = flag


def ioi_model() -> Planted:
    """Build the planted IOI model (module docstring)."""
    builder = PlantedBuilder(WORDS, n_layers=4, n_heads=3, d_head=64, flags=("name",))
    V = builder.V
    names = builder.ids(NAMES)
    dup, inhib = 2 * V + 1, 3 * V + 1
    builder.flag("name", NAMES)
    builder.previous_token_head(0, 0)
    for t in names:  # query: the token; key: the previous token (K-composition with L0H0)
        builder.W_Q[1, 0, t, ROTARY + t] = 3.0
        builder.W_K[1, 0, V + t, ROTARY + t] = 3.0
    _ov(builder, 1, 0, [V + t for t in names], [dup + t for t in names], 1.0)
    builder.positional(2, 0, offset=4)
    _ov(builder, 2, 0, [dup + t for t in names], [inhib + t for t in names], 1.0)
    _ioi_qk(builder, 3, 0, names, inhib)
    _ov(builder, 3, 0, names, names, 3.0)
    _ioi_qk(builder, 3, 1, names, inhib)
    builder.positional(3, 2, offset=4)
    _ov(builder, 3, 2, names, names, 3.0)
    planted = builder.build()
    planted.heads.update({role: at for at, role in ROLES.items()})
    return planted


def ioi_task(planted: Planted, n: int = 8) -> CircuitTask:
    """``n`` IOI prompts over the planted vocab with ABC-corrupted twins (S alternates)."""
    clean, corrupt, answers, wrongs = [], [], [], []
    for k in range(n):
        a, b, c, d = (NAMES[(k + j) % len(NAMES)] for j in (0, 1, 3, 5))
        io, s = (b, a) if k % 2 == 0 else (a, b)
        ids = [planted.id(w) for w in TEMPLATE.format(A=a, B=b, S=s).split()]
        bad = [planted.id(w) for w in TEMPLATE.format(A=c, B=d, S=s).split()]
        clean.append([0] + ids)
        corrupt.append([0] + bad)
        answers.append((planted.id(io),))
        wrongs.append((planted.id(s),))
    tokens = torch.tensor(clean)
    return CircuitTask("ioi", "logit_diff", tokens, torch.tensor(corrupt),
                       torch.full((n,), tokens.shape[1] - 1), tuple(answers), tuple(wrongs))
