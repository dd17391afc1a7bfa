"""Hand-built GPT-NeoX models whose heads are exactly the mechanisms the probes measure.

Construction (all weights not mentioned are zero; layer norms have weight 1 and bias 0; the
MLPs are zero so they output 0; the model has the parallel residual of Pythia):

* Residual layout. Token ``t`` embeds as the one-hot ``e_t`` in a *token block* (dims
  ``0..V-1``); a *previous-token block* (dims ``V..2V-1``) is written by the previous-token
  head; optional *flag* dims after it mark word classes (e.g. names). The unembedding reads
  the token block as the identity, so "writing ``e_t``" means "raising the logit of ``t``".
  Layer norm subtracts the mean and divides by the standard deviation; with one-hot
  residuals the mean is ~1/D, which leaves every read matrix essentially unchanged.
* Positions come only from rotary (GPT-NeoX has no learned positions). The first ``ROTARY``
  dims of each head are rotated in pairs ``(i, i + ROTARY/2)`` with frequencies
  ``theta_i = ROTARY_BASE ** (-2i/ROTARY)``. A *positional head* sets constant query/key
  biases in those dims, ``q_i = c`` and ``k_i = c * exp(i * offset * theta_i)`` (as the
  pair ``(cos, sin)``), so the score between query ``m`` and key ``n`` is
  ``scaling * c^2 * sum_i cos((m - n - offset) * theta_i)``: maximal exactly at
  ``m - n = offset`` and at least ``1.07 * scaling * c^2`` lower at every other offset up
  to 256 (checked numerically for ``ROTARY = 16``, base 10). With ``c = 16`` that gap is 34
  logits, so the head puts all but ~1e-13 of its attention on the key ``offset`` back.
  ``offset = 1`` is a previous-token head, ``offset = 0`` attends to the current token.
* Content heads use the remaining (unrotated) dims of the head, where ``q . k`` is
  position-free: the induction head's query reads the token block and its key reads the
  previous-token block (K-composition with the previous-token head of layer 0), so a query
  holding ``t`` attends to positions whose *previous* token is ``t``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

ROTARY = 16
ROTARY_BASE = 10.0
BOS = "<|bos|>"


def word_tokenizer(words: Iterable[str]) -> PreTrainedTokenizerFast:
    """Word-level tokenizer: ``<|bos|>`` is id 0 (also EOS/UNK/PAD), then ``words`` in order.

    Text is split on whitespace and punctuation, so ``" Monday"`` is the single token
    ``Monday``; unknown words become id 0, which the probes treat as "not a word".
    """
    vocab = {BOS: 0}
    for word in words:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token=BOS))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=BOS, unk_token=BOS, pad_token=BOS
    )


@dataclass
class Planted:
    """A built model, its tokenizer and where the planted heads are."""

    model: GPTNeoXForCausalLM
    tokenizer: PreTrainedTokenizerFast
    heads: dict[str, tuple[int, int]] = field(default_factory=dict)

    def id(self, word: str) -> int:
        """Token id of a word."""
        return int(self.tokenizer.convert_tokens_to_ids(word))


class PlantedBuilder:
    """Collects hand-set weights, then writes them into a GPT-NeoX model."""

    def __init__(
        self,
        words: Iterable[str],
        n_layers: int = 2,
        n_heads: int = 4,
        d_head: int = 128,
        n_ctx: int = 256,
        flags: tuple[str, ...] = (),
        bos_scale: float = 1.0,
        unembed_scale: float = 1.0,
    ) -> None:
        self.tokenizer = word_tokenizer(words)
        self.V = len(self.tokenizer)
        self.L, self.H, self.dh = n_layers, n_heads, d_head
        self.D = n_heads * d_head
        self.n_ctx = n_ctx
        self.flag_dim = {name: 2 * self.V + i for i, name in enumerate(flags)}
        assert 2 * self.V + len(flags) <= self.D, "residual too narrow for the vocab"
        self.W_E = torch.zeros(self.V, self.D)
        self.W_E[torch.arange(self.V), torch.arange(self.V)] = 1.0
        self.W_E[0, 0] = bos_scale
        self.W_U = torch.zeros(self.D, self.V)
        self.W_U[torch.arange(self.V), torch.arange(self.V)] = unembed_scale
        shape = (n_layers, n_heads)
        self.W_Q = torch.zeros(*shape, self.D, d_head)
        self.W_K = torch.zeros(*shape, self.D, d_head)
        self.W_V = torch.zeros(*shape, self.D, d_head)
        self.b_Q = torch.zeros(*shape, d_head)
        self.b_K = torch.zeros(*shape, d_head)
        self.W_O = torch.zeros(*shape, d_head, self.D)
        self.heads: dict[str, tuple[int, int]] = {}

    # --- word classes -------------------------------------------------------------------
    def ids(self, words: Iterable[str]) -> list[int]:
        """Token ids of words (each must be in the vocab)."""
        out = [int(self.tokenizer.convert_tokens_to_ids(w)) for w in words]
        assert all(i > 0 for i in out), "word not in the planted vocab"
        return out

    def flag(self, name: str, words: Iterable[str]) -> None:
        """Set flag dim ``name`` in the embedding of ``words``."""
        for t in self.ids(words):
            self.W_E[t, self.flag_dim[name]] = 1.0

    def bigram(self, src: Iterable[str], dst: str, weight: float) -> None:
        """Direct path: raise the logit of ``dst`` by ``weight`` whenever the token is in src."""
        (d,) = self.ids([dst])
        for t in self.ids(src):
            self.W_U[t, d] += weight

    # --- heads ----------------------------------------------------------------------------
    def positional(self, layer: int, head: int, offset: int, strength: float = 16.0) -> None:
        """Make a head attend to the key ``offset`` positions back (see module docstring)."""
        half = ROTARY // 2
        theta = ROTARY_BASE ** (-torch.arange(0, ROTARY, 2, dtype=torch.float64) / ROTARY)
        self.b_Q[layer, head, :half] = strength
        self.b_K[layer, head, :half] = (strength * torch.cos(offset * theta)).float()
        self.b_K[layer, head, half:ROTARY] = (strength * torch.sin(offset * theta)).float()

    def _copy_ov(
        self, layer: int, head: int, mapping: Mapping[int, int], dst_offset: int, scale: float
    ) -> None:
        """OV sends token-block dim ``src`` to residual dim ``dst_offset + mapping[src]``.

        The attention input norm scales a one-hot residual entry to about ``sqrt(D)``, so the
        output projection divides by that: the head writes about ``scale`` (times the
        attention weight) into the destination dim.
        """
        gain = math.sqrt(self.D)
        for j, (src, dst) in enumerate(sorted(mapping.items())):
            self.W_V[layer, head, src, j] = 1.0
            self.W_O[layer, head, j, dst_offset + dst] = scale / gain

    def previous_token_head(self, layer: int, head: int) -> None:
        """Attend to the previous position and copy its token into the previous-token block."""
        self.positional(layer, head, offset=1)
        self._copy_ov(layer, head, {t: t for t in range(self.V)}, self.V, 1.0)
        self.heads["prev"] = (layer, head)

    def induction_head(self, layer: int, head: int, qk: float = 3.0, copy: float = 3.0) -> None:
        """Attend where the previous token equals the current one; copy that token's logit.

        Needs a previous-token head in an earlier layer (K-composition).
        """
        assert self.V <= self.dh - ROTARY, "content dims too few for the vocab"
        for t in range(1, self.V):
            self.W_Q[layer, head, t, ROTARY + t] = qk
            self.W_K[layer, head, self.V + t, ROTARY + t] = qk
        self._copy_ov(layer, head, {t: t for t in range(1, self.V)}, 0, copy)
        self.heads["induction"] = (layer, head)

    def duplicate_head(
        self, layer: int, head: int, content: float = 3.0, anti_self: float = 15.0
    ) -> None:
        """Attend to earlier occurrences of the current token (not to itself).

        Content: ``q . k`` is ``scaling * content^2 * |x|^2`` when the tokens match. A
        positional term with offset 0 and negative sign (query bias ``-anti_self``) is lowest
        on the query's own position, so among matching keys the earlier ones win; its range is
        far below the content term, so non-matching keys stay negligible.
        """
        assert self.V <= self.dh - ROTARY, "content dims too few for the vocab"
        self.positional(layer, head, offset=0, strength=anti_self)
        self.b_Q[layer, head, : ROTARY // 2] *= -1
        for t in range(1, self.V):
            self.W_Q[layer, head, t, ROTARY + t] = content
            self.W_K[layer, head, t, ROTARY + t] = content
        self.heads["duplicate"] = (layer, head)

    def successor_head(
        self, layer: int, head: int, succ: Mapping[int, int], strength: float = 3.0
    ) -> None:
        """Attend to the current token; OV raises the logit of the token's successor."""
        self.positional(layer, head, offset=0)
        self._copy_ov(layer, head, succ, 0, strength)
        self.heads["successor"] = (layer, head)

    def ov_head(
        self, layer: int, head: int, rows: Mapping[int, Mapping[int, float]], name: str
    ) -> None:
        """Attend to the current token; OV writes ``sum_j w * e_j`` for ``rows[t] = {j: w}``."""
        self.positional(layer, head, offset=0)
        gain = math.sqrt(self.D)
        for k, (src, outs) in enumerate(sorted(rows.items())):
            self.W_V[layer, head, src, k] = 1.0
            for dst, weight in outs.items():
                self.W_O[layer, head, k, dst] = weight / gain
        self.heads[name] = (layer, head)

    def sink_head(self, layer: int, head: int, strength: float = 4.0) -> None:
        """Attend to BOS (token 0, at position 0); the BOS value vector is ~0 (no-op sink)."""
        self.b_Q[layer, head, ROTARY] = strength
        self.W_K[layer, head, 0, ROTARY] = strength
        for t in range(1, self.V):
            self.W_V[layer, head, t, t % self.dh] = 1.0
        self.heads["sink"] = (layer, head)

    def triggered_sink_head(
        self, layer: int, head: int, flag: str, words: Iterable[str], name: str = "dormant"
    ) -> None:
        """Park on BOS (value 0) unless a token carrying ``flag`` is in context; copy those.

        The query-key favours position 0 (as :meth:`sink_head`) and, twice as strongly, every
        key carrying ``flag``: with no such token the head is dormant (all attention on a zero
        value), with one it attends to the flagged tokens and copies them (active).
        """
        self.b_Q[layer, head, ROTARY] = 4.0
        self.W_K[layer, head, 0, ROTARY] = 4.0
        self.W_K[layer, head, self.flag_dim[flag], ROTARY] = 8.0
        ids = self.ids(words)
        self.flag(flag, words)
        self._copy_ov(layer, head, {t: t for t in ids}, 0, 1.0)
        self.heads[name] = (layer, head)

    def flag_head(
        self, layer: int, head: int, flag: str, words: Iterable[str], ov_scale: float
    ) -> None:
        """Attend uniformly to tokens carrying ``flag``; OV writes ``ov_scale * e_t`` for them."""
        self.b_Q[layer, head, ROTARY] = 6.0
        self.W_K[layer, head, self.flag_dim[flag], ROTARY] = 6.0
        ids = self.ids(words)
        self._copy_ov(layer, head, {t: t for t in ids}, 0, ov_scale)
        self.heads[flag] = (layer, head)

    # --- output ------------------------------------------------------------------------------
    def config(self) -> GPTNeoXConfig:
        """GPT-NeoX config of the planted model (eager attention)."""
        config = GPTNeoXConfig(
            vocab_size=self.V,
            hidden_size=self.D,
            num_hidden_layers=self.L,
            num_attention_heads=self.H,
            intermediate_size=4,
            max_position_embeddings=self.n_ctx,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": ROTARY_BASE,
                "partial_rotary_factor": ROTARY / self.dh,
            },
            use_parallel_residual=True,
            bos_token_id=0,
            eos_token_id=0,
        )
        config._attn_implementation = "eager"
        return config

    @torch.no_grad()
    def build(self) -> Planted:
        """Write the weights into a fresh model."""
        model = GPTNeoXForCausalLM(self.config()).eval()
        for param in model.parameters():
            param.zero_()
        for name, param in model.named_parameters():
            if "layernorm" in name or "layer_norm" in name:
                if name.endswith("weight"):
                    param.fill_(1.0)
        core = model.gpt_neox
        core.embed_in.weight.copy_(self.W_E)
        model.get_output_embeddings().weight.copy_(self.W_U.T)
        H, dh, D = self.H, self.dh, self.D
        for layer, block in enumerate(core.layers):
            qkv = block.attention.query_key_value
            weight = qkv.weight.view(H, 3, dh, D)
            weight[:, 0] = self.W_Q[layer].transpose(1, 2)
            weight[:, 1] = self.W_K[layer].transpose(1, 2)
            weight[:, 2] = self.W_V[layer].transpose(1, 2)
            bias = qkv.bias.view(H, 3, dh)
            bias[:, 0] = self.b_Q[layer]
            bias[:, 1] = self.b_K[layer]
            block.attention.dense.weight.view(D, H, dh).copy_(self.W_O[layer].permute(2, 0, 1))
        assert math.isclose(block.attention.rotary_ndims, ROTARY)
        return Planted(model, self.tokenizer, dict(self.heads))


# --- the standard planted models used by the tests ------------------------------------------
FILLERS = [f"w{i}" for i in range(1, 25)]
NUMBERS = [str(i) for i in range(1, 21)]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]
LETTERS = list("ABCDEFGHI")
EXTRA = ["X", "The", "list", "goes", "In", "order", "Here", "they", "are", ":", ","]
#: Successor pairs the circuits model's vocab keeps, per task of data/tasks/succession.json.
KEPT_PAIRS = {
    "numbers": 19, "number_words": 0, "ordinal_words": 0, "days": 7, "day_prefixes": 0,
    "months": 12, "month_prefixes": 0, "letters": 8, "roman_numerals": 0,
}


def successor_map(builder: PlantedBuilder) -> dict[int, int]:
    """Token -> successor over the numbers, days, months and letters in the vocab."""
    succ: dict[int, int] = {}
    for items, cyclic in ((NUMBERS, False), (DAYS, True), (MONTHS, True), (LETTERS, False)):
        ids = builder.ids(items)
        for i, t in enumerate(ids):
            if i + 1 < len(ids):
                succ[t] = ids[i + 1]
            elif cyclic:
                succ[t] = ids[0]
    return succ


def circuits_builder(bos_scale: float = 10.0) -> PlantedBuilder:
    """A builder over the circuits vocab (fillers, numbers, days, months, letters)."""
    return PlantedBuilder(FILLERS + NUMBERS + DAYS + MONTHS + LETTERS + EXTRA, bos_scale=bos_scale)


def circuits_model(bos_scale: float = 10.0) -> Planted:
    """The standard planted model.

    Layer 0: head 0 previous-token, head 1 duplicate-token, head 2 sink, head 3 zero.
    Layer 1: head 0 induction (+ copying OV), head 1 successor, heads 2-3 zero.
    A zero head has zero Q/K/V/O: it attends uniformly to its prefix and outputs nothing.
    The BOS embedding is ``bos_scale`` times longer than the others (a residual-norm peak).
    """
    builder = circuits_builder(bos_scale)
    builder.previous_token_head(0, 0)
    builder.duplicate_head(0, 1)
    builder.sink_head(0, 2)
    builder.induction_head(1, 0)
    builder.successor_head(1, 1, successor_map(builder))
    return builder.build()


def repeated_docs(n_docs: int = 8, period: int = 10, copies: int = 8) -> list[str]:
    """Documents made of a random block of filler words repeated ``copies`` times."""
    rng = random.Random(0)
    return [" ".join(rng.sample(FILLERS, period) * copies) for _ in range(n_docs)]


def dormant_model() -> Planted:
    """A model with a head dormant on filler-word text and active where numbers occur.

    Layer 0: head 0 previous-token, head 1 triggered sink (flag ``number`` on
    :data:`NUMBERS`: dormant without a number in context, active with one), head 2 sink
    writing its values (zero at BOS; dormant everywhere), head 3 zero. Layer 1: zero. Text of
    :data:`FILLERS` alone keeps head 1 dormant; random tokens over the vocabulary hold
    numbers, so it is active there.
    """
    builder = PlantedBuilder(FILLERS + NUMBERS + DAYS, flags=("number",), bos_scale=10.0)
    builder.previous_token_head(0, 0)
    builder.triggered_sink_head(0, 1, "number", NUMBERS)
    builder.sink_head(0, 2)
    # The plain sink head has no output map; this one writes its values (zero at BOS).
    builder.W_O[0, 2, :, : builder.dh] = torch.eye(builder.dh) / math.sqrt(builder.D)
    return builder.build()
