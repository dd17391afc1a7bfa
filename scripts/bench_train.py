"""Benchmark: organism training throughput against a plain PyTorch loop, side by side.

On the same model (an organism suite's spec, freshly initialised), the same batches and the
same optimiser:

  - ``organism``: ``tracker.organisms.train.train_model`` from step 0 until it has written
    ``--checkpoints`` checkpoints (hub-layout writes and resume state included, as in the demo;
    the early schedule is dense, so this is the costliest stretch of a run);
  - ``plain``: the floor, a bare loop of forward, backward, clip, AdamW step over the same
    number of steps, nothing written.

Prints tokens/s side by side and the ratio; ``--json`` writes them.

Usage: .venv/bin/python scripts/bench_train.py [--suite default] [--size l] [--checkpoints 8]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from tracker.organisms.api import default_threads, suite_info
from tracker.organisms.corpus import Corpus, build_corpus
from tracker.organisms.suite import get_suite
from tracker.organisms.train import TokenBatches, _optimizer, build_model, lr_at, train_model


def plain_loop(spec: Any, corpus: Corpus, steps: int) -> float:
    """Seconds for ``steps`` bare training steps of ``spec``'s model on the corpus batches."""
    tokenizer = corpus.tokenizer
    model = build_model(spec, len(tokenizer), tokenizer)
    optimizer = _optimizer(model, spec)
    batches = TokenBatches(corpus.tokens("train"), spec.seq_len, spec.batch_size, spec.seed,
                           tokenizer.bos_token_id)
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(spec, step)
        x = batches.batch(step)
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both loops; print and return tokens/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="default")
    parser.add_argument("--size", help="model size label (default: the suite's largest)")
    parser.add_argument("--root", help="organism root whose corpus to reuse (built if absent)")
    parser.add_argument("--checkpoints", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    suite = get_suite(args.suite)
    spec = next((m for m in suite.models if m.size == args.size), suite.models[-1])
    info = suite_info(args.suite, args.root)
    torch.set_num_threads(default_threads())
    corpus = build_corpus(suite.corpus, info.root)
    with tempfile.TemporaryDirectory() as tmp:
        result = train_model(suite, spec, corpus, Path(tmp), stop_after=args.checkpoints,
                             progress=False)
    steps = result.end_step - result.start_step
    plain = plain_loop(spec, corpus, steps)
    tokens = steps * spec.tokens_per_step
    out = {"model": suite.repo_id(spec), "steps": steps, "tokens_per_step": spec.tokens_per_step,
           "threads": torch.get_num_threads(),
           "organism_tokens_per_second": tokens / result.seconds,
           "plain_tokens_per_second": tokens / plain}
    out["plain_over_organism"] = out["plain_tokens_per_second"] / out[
        "organism_tokens_per_second"]
    print(f"{out['model']}: {steps} steps of {spec.tokens_per_step} tokens, "
          f"{out['threads']} threads")
    print(f"  {'loop':<12}{'tokens/s':>12}")
    print(f"  {'organism':<12}{out['organism_tokens_per_second']:>12,.0f}")
    print(f"  {'plain':<12}{out['plain_tokens_per_second']:>12,.0f}")
    print(f"  plain / organism {out['plain_over_organism']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
