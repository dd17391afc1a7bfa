"""Training one organism: a resumable loop that files checkpoints into a hub-layout cache.

Determinism is what makes resuming exact: the batch of step ``s`` is a pure function of the
seed and ``s`` (see :class:`TokenBatches`), and model, optimiser and RNG state are saved at
every checkpoint, so a run killed after any checkpoint continues to the same weights as a run
never interrupted (for the same torch build and thread count).
"""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tracker.organisms.corpus import Corpus
from tracker.organisms.suite import ModelSpec, SuiteSpec
from tracker.sources.hf_cache import (
    list_cached_refs,
    remove_partial_writes,
    repo_folder,
    write_cache_revision,
)
from tracker.sources.metadata import read_series_meta, write_series_meta


@dataclass
class TrainResult:
    """What one call to :func:`train_model` did.

    Attributes:
        repo_id: The model's repo id.
        cached: True when the model was already complete and nothing ran.
        complete: Whether every checkpoint now exists.
        start_step: Step the call started from (non-zero when resumed).
        end_step: Last step reached.
        seconds: Wall time of the training loop in this call.
        tokens_per_second: Training tokens per second in this call (0 when nothing ran).
    """

    repo_id: str
    cached: bool
    complete: bool
    start_step: int
    end_step: int
    seconds: float
    tokens_per_second: float


class TokenBatches:
    """Deterministic batches of ``[BOS] + chunk`` sequences cut from a token stream.

    The stream is cut into consecutive chunks of ``seq_len - 1`` tokens; each epoch visits
    all chunks in an order drawn from ``(seed, epoch)``. Batch ``s`` holds the sequences
    ``s * batch_size`` .. ``(s + 1) * batch_size - 1`` of that endless order, so it depends
    on nothing but the seed and ``s``.

    Args:
        tokens: 1-d token stream.
        seq_len: Sequence length including the leading BOS.
        batch_size: Sequences per batch.
        seed: Seed of the visiting order.
        bos: BOS token id.
    """

    def __init__(
        self, tokens: np.ndarray, seq_len: int, batch_size: int, seed: int, bos: int
    ) -> None:
        self.tokens = tokens
        self.chunk = seq_len - 1
        self.batch_size = batch_size
        self.seed = seed
        self.bos = bos
        self.n_chunks = len(tokens) // self.chunk
        if self.n_chunks < batch_size:
            raise ValueError(f"corpus of {len(tokens)} tokens is too small for one batch")
        self._orders: dict[int, np.ndarray] = {}

    def _order(self, epoch: int) -> np.ndarray:
        if epoch not in self._orders:
            # One epoch's order is kept at a time: batches are requested in step order.
            rng = np.random.default_rng([self.seed, epoch])
            self._orders = {epoch: rng.permutation(self.n_chunks)}
        return self._orders[epoch]

    def batch(self, step: int) -> torch.Tensor:
        """Return batch ``step`` as a (batch_size, seq_len) LongTensor."""
        rows = []
        for i in range(step * self.batch_size, (step + 1) * self.batch_size):
            epoch, pos = divmod(i, self.n_chunks)
            start = int(self._order(epoch)[pos]) * self.chunk
            rows.append(np.concatenate([[self.bos], self.tokens[start : start + self.chunk]]))
        return torch.from_numpy(np.stack(rows).astype(np.int64))


def build_model(spec: ModelSpec, vocab_size: int, tokenizer: Any) -> Any:
    """Build a freshly initialised model of the spec's architecture (seeded by ``spec.seed``).

    GPT-NeoX follows Pythia (rotary width, parallel residual); Llama is the Llama recipe at the
    same depth, width and heads (see :class:`ModelSpec`).
    """
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM

    shared: dict[str, Any] = dict(
        vocab_size=vocab_size,
        hidden_size=spec.d_model,
        num_hidden_layers=spec.n_layers,
        num_attention_heads=spec.n_heads,
        max_position_embeddings=spec.seq_len,
        tie_word_embeddings=spec.tie_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=spec.init_std,
    )
    config: Any
    if spec.architecture == "llama":
        # A gated MLP has three matrices: width 8 D / 3 matches GPT-NeoX's two of width 4 D.
        config = LlamaConfig(intermediate_size=round(8 * spec.d_model / 3),
                             num_key_value_heads=spec.n_heads, **shared)
        model_cls: Any = LlamaForCausalLM
    else:
        config = GPTNeoXConfig(
            intermediate_size=4 * spec.d_model,
            rotary_pct=spec.rotary_pct,  # type: ignore[call-arg]  # taken by **kwargs, not typed
            use_parallel_residual=True,
            **shared,
        )
        model_cls = GPTNeoXForCausalLM
    torch.manual_seed(spec.seed)
    model = model_cls(config)
    if spec.unembed_from_embed and not spec.tie_embeddings:
        # Starting with W_U = W_E^T makes "copy the attended token" the default readout of
        # any head, which shortens the plateau before induction heads form; the two
        # matrices are trained independently afterwards, as in Pythia.
        with torch.no_grad():
            model.get_output_embeddings().weight.copy_(model.get_input_embeddings().weight)
    return model


def _optimizer(model: Any, spec: ModelSpec) -> torch.optim.Optimizer:
    # No decay on biases and norms, as in Pythia (GPT-NeoX) training.
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": spec.weight_decay},
              {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=spec.lr, betas=(0.9, 0.95), eps=1e-8)


def lr_at(spec: ModelSpec, step: int) -> float:
    """Learning rate for the update taking the model from ``step`` to ``step + 1``."""
    if step < spec.warmup:
        return spec.lr * (step + 1) / spec.warmup
    progress = (step - spec.warmup) / max(1, spec.steps - spec.warmup)
    floor = spec.min_lr_ratio
    return spec.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a kill mid-save keeps the previous state intact


def is_complete(suite: SuiteSpec, spec: ModelSpec, cache_dir: Path) -> bool:
    """Whether a model is fully trained for exactly this spec and corpus."""
    repo_id = suite.repo_id(spec)
    meta = read_series_meta(repo_folder(cache_dir, repo_id))
    if not meta.get("complete") or meta.get("key") != spec.key(suite.corpus):
        return False
    refs = list_cached_refs(cache_dir, repo_id)
    return all(f"step{s}" in refs for s in spec.checkpoint_steps())


def train_model(
    suite: SuiteSpec,
    spec: ModelSpec,
    corpus: Corpus,
    root: Path,
    *,
    stop_after: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train one organism, resuming from its last checkpoint, and file every checkpoint.

    Args:
        suite: The suite (names the repo and corpus).
        spec: The model to train.
        corpus: The built corpus.
        root: Artifact root (cache in ``root/hub``, resume state in ``root/state``).
        stop_after: Stop after writing this many checkpoints in this call (simulates a kill).
        progress: Show a tqdm bar.

    Returns:
        What happened.
    """
    from tqdm.auto import tqdm

    cache_dir = root / "hub"
    repo_id = suite.repo_id(spec)
    key = spec.key(suite.corpus)
    if is_complete(suite, spec, cache_dir):
        return TrainResult(repo_id, True, True, spec.steps, spec.steps, 0.0, 0.0)
    state_path = root / "state" / repo_id.replace("/", "--") / "state.pt"
    repo = repo_folder(cache_dir, repo_id)
    state = torch.load(state_path, weights_only=False) if state_path.is_file() else None
    if state is None or state.get("key") != key:
        # A different spec or corpus (or no state at all): start over from a clean repo.
        shutil.rmtree(repo, ignore_errors=True)
        state = None
    else:
        remove_partial_writes(cache_dir, repo_id)  # a kill mid-checkpoint leaves staging files
    state_path.parent.mkdir(parents=True, exist_ok=True)
    repo.mkdir(parents=True, exist_ok=True)

    tokenizer = corpus.tokenizer
    model = build_model(spec, len(tokenizer), tokenizer)
    optimizer = _optimizer(model, spec)
    batches = TokenBatches(corpus.tokens("train"), spec.seq_len, spec.batch_size, spec.seed,
                           tokenizer.bos_token_id)
    meta: dict[str, Any] = {
        "tokens_per_step": spec.tokens_per_step, "series_id": repo_id, "suite": suite.name,
        "size": spec.size, "seed": spec.seed, "key": key, "corpus": suite.corpus.key(),
        "spec": spec.__dict__, "steps": spec.checkpoint_steps(), "complete": False,
        "loss": {}, "train_seconds": 0.0}
    start = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        start = int(state["step"])
        meta.update(state["meta"])
    checkpoints = set(spec.checkpoint_steps())
    written = 0

    def checkpoint(step: int) -> None:
        nonlocal written
        write_cache_revision(cache_dir, repo_id, f"step{step}", model, tokenizer)
        meta["train_seconds"] = round(elapsed, 3)
        _save_state(state_path, {"key": key, "step": step, "model": model.state_dict(),
                                 "optimizer": optimizer.state_dict(),
                                 "torch_rng": torch.get_rng_state(), "meta": meta})
        write_series_meta(repo, meta)
        written += 1

    elapsed = float(meta["train_seconds"])
    if state is None and 0 in checkpoints:
        checkpoint(0)
    model.train()
    bar = tqdm(total=spec.steps, initial=start, desc=repo_id, unit="step", disable=not progress,
               leave=True, dynamic_ncols=True)
    began = time.perf_counter()
    step = start
    loss_sum, loss_n = 0.0, 0
    while step < spec.steps and (stop_after is None or written < stop_after):
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(spec, step)
        x = batches.batch(step)
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        elapsed += time.perf_counter() - t0
        loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
        bar.update(1)
        if step in checkpoints:
            meta["loss"][str(step)] = round(loss_sum / loss_n, 4)
            loss_sum, loss_n = 0.0, 0
            bar.set_postfix(loss=f"{meta['loss'][str(step)]:.3f}",
                            tok_s=f"{spec.tokens_per_step * step / max(elapsed, 1e-9):,.0f}")
            checkpoint(step)
    bar.close()
    seconds = time.perf_counter() - began
    done = step >= spec.steps
    if done:
        meta["complete"] = True
        meta["tokens_per_second"] = round(spec.tokens_per_step * spec.steps / max(elapsed, 1e-9))
        write_series_meta(repo, meta)
        shutil.rmtree(state_path.parent, ignore_errors=True)  # optimizer state not needed now
    run_tokens = (step - start) * spec.tokens_per_step
    return TrainResult(repo_id, False, done, start, step, seconds,
                       run_tokens / seconds if seconds > 0 else 0.0)
