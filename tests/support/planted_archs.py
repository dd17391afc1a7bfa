"""Planted induction models for the architectures beyond GPT-NeoX (GPT-2, Llama, OLMo 2).

Two layers of two heads over the filler words of :mod:`tests.support.planted_models`: head
(0, 0) attends to the previous position and copies its token into a *previous-token block*;
head (1, 0) is an induction head (query reads the token block, key the previous-token block)
whose OV copies the attended token's logit. Every other weight is zero (MLPs output 0, the
other heads attend uniformly and write nothing). Same residual layout as the GPT-NeoX planted
models: token ``t`` embeds as ``e_t`` in dims ``0..V-1``, the previous-token block is
``V..2V-1``, and the unembedding reads the token block as the identity.

What differs per architecture is where positions come from and what the norms do:

* Positions. Llama and OLMo 2 rotate every head dim in pairs ``(i, i + d_head/2)`` with
  ``theta_i = rope_theta ** (-2i/d_head)``; with ``d_head = 128`` and ``rope_theta = 1e8``,
  ``theta_i = 10 ** (-i/8)``: pairs 0..7 carry exactly the frequencies of the GPT-NeoX planted
  models' rotary dims (so the same >= 1.07 gap holds), and pairs 24..63, where content heads
  put their query and key, turn by at most 1e-3 rad a position (content scores change by
  under 1% over 121 positions). These models have no biases, so a positional head reads a
  constant residual dim (``CONST``, 1 in every embedding) into pairs 0..7 with the phases of
  ``offset`` on its key. GPT-2 has learned positions: ``wpe[p]`` holds ``(cos p theta_i,
  sin p theta_i)`` in code dims, the query reads them as they are and the key rotated by
  ``offset * theta_i``, which gives the same score ``sum_i cos((m - n - offset) theta_i)``.
* Norms are set to give back the planted vectors: a pre-norm's gain is the planted
  residual's RMS at that layer (GPT-2's LayerNorm also subtracts the mean, a 1/D-sized
  perturbation); OLMo 2's QK-norms get the RMS of the planted query or key and its
  post-attention norm ``1/sqrt(D)``, so a unit write stays a unit write.
* Grouped-query attention: the Llama and OLMo 2 models have one key/value head for both query
  heads, which the zero head shares (its query is zero, so it still attends uniformly).
"""

from __future__ import annotations

import math

import torch
from transformers import AutoModelForCausalLM

from tests.support.builders import tiny_arch_config
from tests.support.planted_models import FILLERS, Planted, word_tokenizer

N_LAYERS, N_HEADS, D_HEAD = 2, 2, 128
D = N_HEADS * D_HEAD
N_CTX = 256
PAIRS = 8  # positional frequency pairs
THETA = 10.0 ** (-torch.arange(PAIRS, dtype=torch.float64) / PAIRS)
STRENGTH = 16.0  # positional query/key entries, as in the GPT-NeoX planted models
QK, COPY = 20.0, 3.0  # induction content (score gap QK^2 / sqrt(d_head) = 35) and copy
ROPE_THETA = 1e8
CONTENT = 24  # first content pair of the rotary head layout

#: Architectures with a planted induction model here (GPT-NeoX's is ``circuits_model``).
PLANTED_ARCHS = ("gpt2", "llama", "olmo2")


def _head_layout(model_type: str) -> tuple[list[tuple[int, int]], int]:
    """Head dims of the positional pairs and the first content dim."""
    if model_type == "gpt2":
        return [(i, i + PAIRS) for i in range(PAIRS)], 2 * PAIRS
    half = D_HEAD // 2
    return [(i, i + half) for i in range(PAIRS)], CONTENT


def _weights(model_type: str, vocab: int) -> dict[str, torch.Tensor]:
    """Per-head maps W_Q, W_K, W_V (L, H, D, d_head), W_O (L, H, d_head, D), W_E, W_pos."""
    const, code = 2 * vocab, 2 * vocab + 1
    w = {name: torch.zeros(N_LAYERS, N_HEADS, D, D_HEAD) for name in ("W_Q", "W_K", "W_V")}
    w["W_O"] = torch.zeros(N_LAYERS, N_HEADS, D_HEAD, D)
    w["W_E"] = torch.zeros(vocab, D)
    w["W_E"][torch.arange(vocab), torch.arange(vocab)] = 1.0
    pairs, content = _head_layout(model_type)
    phase = THETA * 1  # the previous-token head: offset 1
    if model_type == "gpt2":
        pos = torch.arange(N_CTX, dtype=torch.float64)[:, None] * THETA
        w["W_pos"] = torch.zeros(N_CTX, D)
        w["W_pos"][:, code : code + 2 * PAIRS : 2] = torch.cos(pos).float()
        w["W_pos"][:, code + 1 : code + 2 * PAIRS : 2] = torch.sin(pos).float()
        for i, (a, b) in enumerate(pairs):
            c, s = math.cos(phase[i]), math.sin(phase[i])
            cos_dim, sin_dim = code + 2 * i, code + 2 * i + 1
            w["W_Q"][0, 0, cos_dim, a] = w["W_Q"][0, 0, sin_dim, b] = STRENGTH
            # k = R(phase) (cos n theta, sin n theta)
            w["W_K"][0, 0, cos_dim, a], w["W_K"][0, 0, sin_dim, a] = c * STRENGTH, -s * STRENGTH
            w["W_K"][0, 0, cos_dim, b], w["W_K"][0, 0, sin_dim, b] = s * STRENGTH, c * STRENGTH
    else:
        w["W_E"][:, const] = 1.0
        for i, (a, b) in enumerate(pairs):
            w["W_Q"][0, 0, const, a] = STRENGTH
            w["W_K"][0, 0, const, a] = STRENGTH * math.cos(phase[i])
            w["W_K"][0, 0, const, b] = STRENGTH * math.sin(phase[i])
    for t in range(vocab):  # previous-token head: copy the token into the previous-token block
        w["W_V"][0, 0, t, t] = 1.0
        w["W_O"][0, 0, t, vocab + t] = 1.0
    for t in range(1, vocab):  # induction head: match on the previous token, copy the token
        w["W_Q"][1, 0, t, content + t] = QK
        w["W_K"][1, 0, vocab + t, content + t] = QK
        w["W_V"][1, 0, t, t] = 1.0
        w["W_O"][1, 0, t, t] = COPY
    return w


def _residual_rms(model_type: str, layer: int) -> float:
    """RMS over D of a planted residual entering ``layer``: the token, CONST or the position
    code, and from layer 1 on the previous-token block."""
    squares = 1.0 + (PAIRS if model_type == "gpt2" else 1.0) + layer
    return math.sqrt(squares / D)


@torch.no_grad()
def planted_induction(model_type: str) -> Planted:
    """Build the planted induction model of an architecture in :data:`PLANTED_ARCHS`."""
    tokenizer = word_tokenizer(FILLERS)
    vocab = len(tokenizer)
    assert 2 * vocab + 1 + 2 * PAIRS <= D and CONTENT + vocab <= D_HEAD // 2
    if model_type == "gpt2":
        config = tiny_arch_config("gpt2", vocab_size=vocab, n_embd=D, n_layer=N_LAYERS,
                                  n_head=N_HEADS, n_inner=4, n_positions=N_CTX)
    else:
        config = tiny_arch_config(model_type, vocab_size=vocab, hidden_size=D,
                                  num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS,
                                  num_key_value_heads=1, intermediate_size=4,
                                  max_position_embeddings=N_CTX, rope_theta=ROPE_THETA)
    model = AutoModelForCausalLM.from_config(config).eval()
    for param in model.parameters():
        param.zero_()
    w = _weights(model_type, vocab)
    if model_type == "gpt2":
        _write_gpt2(model, w)
    else:
        _write_llama_like(model, w, model_type == "olmo2")
    heads = {"prev": (0, 0), "induction": (1, 0)}
    return Planted(model, tokenizer, heads)


def _write_gpt2(model: torch.nn.Module, w: dict[str, torch.Tensor]) -> None:
    core = model.transformer  # type: ignore[attr-defined]
    core.wte.weight.copy_(w["W_E"])  # tied: the unembedding reads the token block
    core.wpe.weight.copy_(w["W_pos"])
    for layer, block in enumerate(core.h):
        weight = block.attn.c_attn.weight.view(D, 3, N_HEADS, D_HEAD)
        for j, name in enumerate(("W_Q", "W_K", "W_V")):
            weight[:, j] = w[name][layer].permute(1, 0, 2)
        block.attn.c_proj.weight.view(N_HEADS, D_HEAD, D).copy_(w["W_O"][layer])
        gain = _residual_rms("gpt2", layer)
        block.ln_1.weight.fill_(gain)
        block.ln_2.weight.fill_(1.0)
    core.ln_f.weight.fill_(1.0)


def _write_llama_like(model: torch.nn.Module, w: dict[str, torch.Tensor], olmo2: bool) -> None:
    core = model.model  # type: ignore[attr-defined]
    core.embed_tokens.weight.copy_(w["W_E"])
    vocab = w["W_E"].shape[0]
    model.lm_head.weight[:, :vocab] = torch.eye(vocab)  # type: ignore[attr-defined]
    core.norm.weight.fill_(1.0)
    for layer, block in enumerate(core.layers):
        attn = block.self_attn
        attn.q_proj.weight.view(N_HEADS, D_HEAD, D).copy_(w["W_Q"][layer].transpose(1, 2))
        # One key/value head for both query heads: only head 0 of each layer has a key/value.
        attn.k_proj.weight.view(1, D_HEAD, D)[0] = w["W_K"][layer, 0].T
        attn.v_proj.weight.view(1, D_HEAD, D)[0] = w["W_V"][layer, 0].T
        attn.o_proj.weight.view(D, N_HEADS, D_HEAD).copy_(w["W_O"][layer].permute(2, 0, 1))
        if olmo2:
            # The QK-norms divide by the RMS over all heads' dims: give back the planted
            # vector's RMS. Unit writes through the post-attention norm stay unit.
            # A planted residual of token 1 (CONST, and from layer 1 its previous token 1).
            x = w["W_E"][1].clone()
            x[vocab + 1] = float(layer)
            q_rms = (x @ w["W_Q"][layer, 0]).norm() / math.sqrt(N_HEADS * D_HEAD)
            k_rms = (x @ w["W_K"][layer, 0]).norm() / math.sqrt(D_HEAD)
            attn.q_norm.weight.fill_(float(q_rms))
            attn.k_norm.weight.fill_(float(k_rms))
            block.post_attention_layernorm.weight.fill_(1.0 / math.sqrt(D))
            block.post_feedforward_layernorm.weight.fill_(1.0)
        else:
            block.input_layernorm.weight.fill_(_residual_rms("llama", layer))
            block.post_attention_layernorm.weight.fill_(1.0)
