"""What ``bench_sweep.py`` measures tracker against, and the checkpoints it measures on.

- :func:`pythia_shaped_cache`: a hub-layout cache of GPT-NeoX checkpoints of Pythia-70m's shape
  with random weights per step (and a word-level tokenizer that holds the successor tasks'
  words), so the sizes on disk and in memory are Pythia-70m's;
- :func:`transformer_lens_loop`: the idiomatic loop a careful user writes today: per
  checkpoint, load into TransformerLens (the 4.x ``TransformerBridge``, its default
  processing) and run each probe with its own ``run_with_cache``; copying from the eigenvalues
  of each head's full OV circuit ``W_E OV W_U`` (TransformerLens's ``FactoredMatrix``);
  successor heads from its OV matrices and first MLP (Gould et al.'s effective embedding);
- :func:`hooked_transformer_loop`: the same loop through the classic
  ``HookedTransformer.from_pretrained(..., checkpoint_value=N)`` of an older TransformerLens
  installed beside 4.x (``bench_sweep.py --hooked-transformer DIR``);
- :func:`floor`: loading the weights alone (every byte read) plus one forward pass over the
  probes' inputs, returning attentions and hidden states (the base model: no probe here needs
  logits).

Scores come back keyed like tracker's metrics so ``bench_sweep.py`` can check agreement.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tracker.probes.induction import induction_family_scores
from tracker.probes.inputs import RepeatedTokens
from tracker.probes.prompts import load_task_file
from tracker.probes.ranking import strictly_first
from tracker.probes.sinks import sink_scores
from tracker.probes.successor_heads import (
    SuccessionPairs,
    SuccessorHeadsConfig,
    succession_tasks,
)
from tracker.sources import HubSeries
from tracker.sources.loading import load_model_and_tokenizer

#: Pythia-70m's shape (``bench_circuits.py`` uses the same).
PYTHIA_70M: dict[str, Any] = dict(
    vocab_size=50304, hidden_size=512, num_hidden_layers=6, num_attention_heads=8,
    intermediate_size=2048, rotary_pct=0.25, use_parallel_residual=True,
    max_position_embeddings=2048, bos_token_id=0, eos_token_id=0)
#: A tiny shape for a smoke run of the whole benchmark.
TINY: dict[str, Any] = dict(PYTHIA_70M, vocab_size=2048, hidden_size=64, num_hidden_layers=2,
                            num_attention_heads=4, intermediate_size=128)
PYTHIA_REPO = "EleutherAI/pythia-70m"


def pythia_shaped_cache(cache: Path, steps: list[int], shape: dict[str, Any]) -> None:
    """Write random-weight checkpoints ``step{N}`` into a hub-layout cache (skipped if there)."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    from tracker.organisms.task_words import load_task_words
    from tracker.organisms.tokenizer import train_tokenizer
    from tracker.sources.hf_cache import list_cached_refs, write_cache_revision

    have = list_cached_refs(cache, PYTHIA_REPO) if cache.exists() else {}
    missing = [s for s in steps if f"step{s}" not in have]
    if not missing:
        if "main" not in have:
            _point_main_at_last_step(cache)
        return
    words = load_task_words()
    # Filler documents give the tokenizer a realistic number of entries beside the task words.
    filler = [" ".join(f"x{i}" for i in range(j, 20_000, 50)) for j in range(50)]
    tokenizer = train_tokenizer(filler, required=words.single_token_words() + words.openers())
    for step in missing:
        torch.manual_seed(step)
        config = GPTNeoXConfig(**shape)
        model = GPTNeoXForCausalLM(config).eval()
        write_cache_revision(cache, PYTHIA_REPO, f"step{step}", model, tokenizer)
    _point_main_at_last_step(cache)


def _point_main_at_last_step(cache: Path) -> None:
    """``refs/main`` -> the last step's commit, as on the hub (Pythia's main is step143000).

    TransformerLens's ``from_pretrained`` reads the config at ``main`` before the checkpoint.
    """
    from tracker.sources.hf_cache import list_cached_refs, repo_folder

    steps = {int(ref[4:]): commit for ref, commit in list_cached_refs(cache, PYTHIA_REPO).items()
             if ref.startswith("step")}
    (repo_folder(cache, PYTHIA_REPO) / "refs" / "main").write_text(steps[max(steps)])


def _offline_tokenizer(tokenizer: Any) -> Any:
    """A copy TransformerLens takes as it is, offline.

    An in-memory tokenizer needs ``name_or_path`` and ``add_bos_token`` set, or TransformerLens
    reloads it from the hub to add a BOS token (the ids passed in are used as they are).
    """
    tok = copy.deepcopy(tokenizer)
    tok.init_kwargs["name_or_path"] = "in-memory"
    tok.init_kwargs["add_bos_token"] = True
    return tok


def _bridge(model: Any, tokenizer: Any) -> Any:
    """Boot a TransformerBridge on an already loaded HF model, offline."""
    from transformer_lens.model_bridge import TransformerBridge

    return TransformerBridge.boot_transformers(PYTHIA_REPO, hf_model=model,
                                               tokenizer=_offline_tokenizer(tokenizer))


def _load(series: HubSeries, revision: str, device: str, dtype: torch.dtype,
          tokenizer: bool) -> tuple[Any, Any]:
    """The model at ``revision`` as HF loads it, with no hashing or other tracker work."""
    return load_model_and_tokenizer(series.repo_id, what=revision, revision=revision,
                                    cache_dir=series.cache_dir, local_files_only=True,
                                    device=device, dtype=dtype, load_tokenizer=tokenizer)


def _patterns(cache: Any, n_layers: int) -> torch.Tensor:
    return torch.stack([cache["pattern", layer] for layer in range(n_layers)])


def _copying_eigen(model: Any) -> np.ndarray:
    """sum(eig) / sum(|eig|) of ``W_E OV W_U`` per head, through FactoredMatrix's d x d form."""
    from transformer_lens import FactoredMatrix

    ov = model.OV  # FactoredMatrix (L, H, D, D)
    # fp32 factors: torch's eig has no bfloat16 or float16 kernels (a --dtype bfloat16 run).
    ov = FactoredMatrix(ov.A.float(), ov.B.float())
    full = model.W_E.float() @ ov @ model.W_U.float()  # still factored: (V x d) (d x V)
    eig = full.eigenvalues  # (L, H, d)
    return (eig.real.sum(-1) / eig.abs().sum(-1)).detach().double().cpu().numpy()


def succession_pairs(tokenizer: Any) -> list[SuccessionPairs]:
    """The successor tasks' kept tokens and pairs (tracker's task file, as both loops use)."""
    config = SuccessorHeadsConfig()
    return succession_tasks(tokenizer, load_task_file(config.tasks_file), config.tasks)


def _tl_successor_scores(model: Any, tasks: list[SuccessionPairs]) -> np.ndarray:
    """Gould et al.'s succession score per head from TransformerLens's weights, (L, H).

    Layer 0 reads ``W_E``, later layers the effective embedding ``W_E + MLP0(LN2(W_E))``
    (Pythia's parallel block); each head's OV output ``LN1(x) W_V W_O``, through the final
    norm less its bias, unembedded; a pair succeeds when the successor's logit is strictly
    the highest of its task's tokens. Pooled over every task's pairs.
    """
    vocab = sorted({t for task in tasks for t in task.ids})
    where = {t: i for i, t in enumerate(vocab)}
    ids = torch.tensor(vocab, device=model.W_E.device)
    w_e = model.W_E[ids].float()[None]  # (1, N, D): the modules take (batch, pos, D)
    block0 = model.blocks[0]
    eff = w_e + block0.mlp(block0.ln2(w_e)).float()
    zero = model.ln_final(torch.zeros_like(w_e[:, :1]))[0, 0]
    w_u = model.W_U[:, ids].float()
    wins = []
    for layer in range(model.cfg.n_layers):
        normed = model.blocks[layer].ln1(w_e if layer == 0 else eff)[0].float()  # (N, D)
        ov = torch.einsum("nd,hde,hef->hnf", normed, model.W_V[layer].float(),
                          model.W_O[layer].float())
        logits = (model.ln_final(ov).float() - zero) @ w_u  # (H, N, N)
        per_task = []
        for task in tasks:
            cols = torch.tensor([where[t] for t in task.ids], device=logits.device)
            rows = torch.tensor([i for i, _ in task.pairs], dtype=torch.long,
                                device=logits.device)
            targets = torch.tensor([j for _, j in task.pairs], dtype=torch.long,
                                   device=logits.device)
            per_task.append(strictly_first(logits[:, cols][:, :, cols][:, rows], targets))
        wins.append(torch.cat(per_task, dim=1).double().mean(dim=1))  # (H,)
    return torch.stack(wins).cpu().numpy()


def _tl_probe_scores(model: Any, rep: RepeatedTokens, tasks: list[SuccessionPairs],
                     device: str) -> dict[str, np.ndarray]:
    """One ``run_with_cache`` per probe, as separate notebooks do; scores of the checkpoint."""
    n_layers, tokens = model.cfg.n_layers, rep.tokens.to(device)
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens)  # induction family
        family = induction_family_scores(_patterns(cache, n_layers).float(), rep.seq_len,
                                         rep.n_repeats)
        del cache
        _, cache = model.run_with_cache(tokens)  # attention sinks
        sinks = sink_scores(_patterns(cache, n_layers).float())
        del cache
        _, cache = model.run_with_cache(tokens)  # copying (empirical part reads resid)
        del cache
        eigen = _copying_eigen(model)
        succession = _tl_successor_scores(model, tasks)
    scores = {name: value.mean(axis=0) for name, value in family.items()}
    scores["sink_score"] = sinks.mean(axis=0)
    scores["copying_eigen"] = eigen
    scores["succession_score"] = succession
    return scores


def transformer_lens_loop(series: HubSeries, steps: list[int], rep: RepeatedTokens,
                          device: str, dtype: torch.dtype) -> dict[str, Any]:
    """Per checkpoint: load, bridge, one ``run_with_cache`` per probe; seconds and scores.

    Args:
        series: The checkpoints (only its ``checkpoints()`` and loader are used).
        steps: Steps to run.
        rep: The repeated-token batch the pattern probes read (tracker's own inputs).
        device: Torch device.
        dtype: Parameter dtype.

    Returns:
        ``seconds`` per checkpoint and ``scores`` (metric name -> (L, H)) of the last one.
    """
    by_step = {c.step: c for c in series.checkpoints()}
    seconds, scores = [], {}
    for step in steps:
        start = time.perf_counter()
        ckpt = by_step[step]
        model, tokenizer = _load(series, ckpt.revision, device, dtype, tokenizer=True)
        bridge = _bridge(model, tokenizer)
        scores = _tl_probe_scores(bridge, rep, succession_pairs(tokenizer), device)
        del bridge, model
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "scores": scores}


def hooked_transformer_loop(series: HubSeries, steps: list[int], rep: RepeatedTokens,
                            device: str, dtype: torch.dtype) -> dict[str, Any]:
    """The classic loop: ``HookedTransformer.from_pretrained(..., checkpoint_value=N)`` per step.

    Needs a TransformerLens that still has ``HookedTransformer`` (3.x or older) first on
    ``sys.path``; loads with its default weight processing (LayerNorm folded, writing weights
    and the unembedding centred, value biases folded), which is what most notebooks measure.
    The tokenizer is loaded once (from_pretrained would fetch it from the hub). Arguments and
    result as :func:`transformer_lens_loop`; ``series`` holds Pythia checkpoints in a
    hub-layout cache (``series.cache_dir``), at steps TransformerLens knows.
    """
    from transformer_lens import HookedTransformer

    by_step = {c.step: c for c in series.checkpoints()}
    _, tokenizer = _load(series, by_step[steps[0]].revision, device, dtype, tokenizer=True)
    tokenizer = _offline_tokenizer(tokenizer)
    tasks = succession_pairs(tokenizer)
    seconds, scores = [], {}
    for step in steps:
        start = time.perf_counter()
        model = HookedTransformer.from_pretrained(
            series.repo_id, checkpoint_value=step, tokenizer=tokenizer, device=device,
            dtype=dtype, cache_dir=series.cache_dir, local_files_only=True)
        scores = _tl_probe_scores(model, rep, tasks, device)
        del model
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "scores": scores}


def floor(series: HubSeries, steps: list[int], tokens: torch.Tensor, device: str,
          dtype: torch.dtype) -> dict[str, Any]:
    """Per checkpoint: load the weights, run one forward with attentions and hidden states.

    Loading means reading every weight: safetensors are mapped lazily, and the base model's
    forward never reads the unembedding, so each parameter is summed once (0.03 s when its
    pages are cached; from disk, the read the other modes pay too).
    """
    by_step = {c.step: c for c in series.checkpoints()}
    seconds = []
    for step in steps:
        start = time.perf_counter()
        model, _ = _load(series, by_step[step].revision, device, dtype, tokenizer=False)
        with torch.no_grad():
            for param in model.parameters():
                param.sum()
            model.base_model(tokens.to(device), output_attentions=True,
                             output_hidden_states=True)
        del model
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds}
