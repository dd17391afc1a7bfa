"""Benchmark: probes sharing forward passes vs each probe on its own, on one checkpoint.

Runs every registered probe on the same GPT-NeoX model twice, side by side in one run:
  - shared: one ProbeContext for all probes (what `tracker sweep` does);
  - separate: a fresh ProbeContext per probe (what per-probe notebooks do).
Prints forward passes, seconds, and the separate/shared ratio.

Usage: .venv/bin/python scripts/bench_sweep.py [--layers 4 --d-model 256 --repeats 3]
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_common import word_tokenizer
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

from tracker.probes import make_probes
from tracker.runner import run_probes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    tok = word_tokenizer(512)
    config = GPTNeoXConfig(vocab_size=512, hidden_size=args.d_model,
                           num_hidden_layers=args.layers, num_attention_heads=args.heads,
                           intermediate_size=4 * args.d_model, max_position_embeddings=1024,
                           rotary_pct=1.0, bos_token_id=0, eos_token_id=0)
    config._attn_implementation = "eager"
    model = GPTNeoXForCausalLM(config).eval()
    words = [f"w{i}" for i in range(511)]
    gen = torch.Generator().manual_seed(1)
    docs = [" ".join(words[int(i)] for i in torch.randint(0, 511, (700,), generator=gen))
            for _ in range(32)]
    extras = {"text_dataset": docs}
    probes = make_probes()

    def shared() -> int:
        _, ctx = run_probes(probes, model, tok, 0, batch_size=256, extras=extras)
        return ctx.forward_count

    def separate() -> int:
        total = 0
        for probe in probes:
            _, ctx = run_probes([probe], model, tok, 0, batch_size=256, extras=extras)
            total += ctx.forward_count
        return total

    rows = []
    for name, fn in (("shared context", shared), ("one context per probe", separate)):
        passes = fn()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        rows.append((name, passes, sorted(times)[len(times) // 2]))
    print(f"GPT-NeoX {args.layers}L d{args.d_model} H{args.heads}, {len(probes)} probes "
          f"({', '.join(p.name for p in probes)}), {torch.get_num_threads()} threads")
    print(f"{'mode':<24}{'forwards':>9}{'seconds':>10}{'x shared':>10}")
    for name, passes, seconds in rows:
        print(f"{name:<24}{passes:>9}{seconds:>10.2f}{seconds / rows[0][2]:>10.2f}")


if __name__ == "__main__":
    main()
