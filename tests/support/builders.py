"""Builders for tiny models, tokenizers and hub-layout caches used across tests."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    Olmo2Config,
    OlmoConfig,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from tracker.sources import write_cache_revision

TINY_VOCAB = 64
PYTHIA_REPO = "EleutherAI/pythia-tiny"
#: Steps of the session-wide cache fixture ``pythia_cache``: the Pythia schedule up to 1000.
SPINE_STEPS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]


def tiny_tokenizer(vocab: int = TINY_VOCAB) -> PreTrainedTokenizerFast:
    """Word-level tokenizer over words ``w0..w{vocab-2}`` with ``<|bos|>`` as id 0."""
    words = {"<|bos|>": 0}
    words.update({f"w{i}": i + 1 for i in range(vocab - 1)})
    tok = Tokenizer(models.WordLevel(words, unk_token="<|bos|>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|bos|>", unk_token="<|bos|>"
    )


def tiny_config(**overrides: Any) -> GPTNeoXConfig:
    """A 2-layer, 4-head, d_model 32 GPT-NeoX config (eager attention)."""
    params: dict[str, Any] = dict(
        vocab_size=TINY_VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        rotary_pct=1.0,
        use_parallel_residual=True,
        bos_token_id=0,
        eos_token_id=0,
    )
    params.update(overrides)
    config = GPTNeoXConfig(**params)
    config._attn_implementation = "eager"
    return config


def tiny_model(seed: int = 0, scale: float = 0.2, **overrides: Any) -> GPTNeoXForCausalLM:
    """A tiny GPT-NeoX with weights drawn from N(0, scale) under a seed."""
    torch.manual_seed(seed)
    model = GPTNeoXForCausalLM(tiny_config(**overrides)).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, scale)
    return model


def build_pythia_cache(
    cache_dir: Path,
    steps: list[int],
    repo_id: str = PYTHIA_REPO,
    repeat_steps: tuple[int, ...] = (),
    **overrides: Any,
) -> Path:
    """Write a hub-layout cache with one tiny model per step (different weights per step).

    Args:
        cache_dir: Cache root to write.
        steps: Steps to write as ``step{N}`` revisions.
        repo_id: Repo id (Pythia-style name).
        repeat_steps: Steps that get the previous step's weights (identical-weights branches).
        **overrides: Config overrides.
    """
    tok = tiny_tokenizer()
    previous = None
    for step in steps:
        model = previous if step in repeat_steps and previous is not None else None
        if model is None:
            model = tiny_model(seed=step + 1, **overrides)
        write_cache_revision(cache_dir, repo_id, f"step{step}", model, tok)
        previous = model
    return cache_dir


def build_suite_cache(
    cache_dir: Path, repo_id: str, model_type: str, revisions: list[str], **overrides: Any
) -> Path:
    """Write a hub-layout cache of tiny ``model_type`` models, one per revision name (weights
    seeded by the name's position), as a suite publishes them (``checkpoint-1000``, ...)."""
    tok = tiny_tokenizer()
    for i, revision in enumerate(revisions):
        model = tiny_arch_model(model_type, seed=100 + i, **overrides)
        write_cache_revision(cache_dir, repo_id, revision, model, tok)
    return cache_dir


#: Config class and the size fields of a tiny model of each non-GPT-NeoX architecture:
#: 2 layers, 4 heads of width 8 (d_model 32), grouped-query attention (2 key/value heads) where
#: the architecture has it.
_LLAMA_LIKE: dict[str, Any] = dict(
    vocab_size=TINY_VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
    tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, pad_token_id=0,
)
_ARCH_CONFIGS: dict[str, tuple[type[PretrainedConfig], dict[str, Any]]] = {
    "gpt2": (GPT2Config, dict(vocab_size=TINY_VOCAB, n_embd=32, n_layer=2, n_head=4,
                              n_inner=64, n_positions=128, bos_token_id=0, eos_token_id=0)),
    "llama": (LlamaConfig, _LLAMA_LIKE),
    "olmo": (OlmoConfig, {**_LLAMA_LIKE, "num_key_value_heads": 4}),
    "olmo2": (Olmo2Config, _LLAMA_LIKE),
}


def tiny_arch_config(model_type: str, **overrides: Any) -> PretrainedConfig:
    """A tiny config of any supported architecture (eager attention); GPT-NeoX's is
    :func:`tiny_config`."""
    if model_type == "gpt_neox":
        return tiny_config(**overrides)
    cls, params = _ARCH_CONFIGS[model_type]
    config = cls(**{**params, **overrides})
    config._attn_implementation = "eager"
    return config


def tiny_arch_model(
    model_type: str, seed: int = 0, scale: float = 0.2, **overrides: Any
) -> PreTrainedModel:
    """A tiny model of any supported architecture with weights drawn from N(0, scale)."""
    if model_type == "gpt_neox":
        return tiny_model(seed, scale, **overrides)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_arch_config(model_type, **overrides))
    model.eval()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, scale)
    return model


#: A tiny random model of each architecture the tracker supports, by Hugging Face
#: ``model_type``. A new adapter gets its builder here (the architecture contract tests fail
#: for a registered type without one).
TINY_MODELS: dict[str, Callable[[], PreTrainedModel]] = {
    name: functools.partial(tiny_arch_model, name, seed=5, scale=0.3, num_hidden_layers=3)
    for name in ("gpt_neox", *_ARCH_CONFIGS)
}
