"""Benchmark: tracker's hooked forward against the alternatives a notebook would use.

Measured side by side in one run on the same weights and inputs:
  - HF forward, logits only (the floor);
  - HF forward with output_attentions=True and output_hidden_states=True;
  - tracker's hooked forward capturing patterns + residual stream (+ per-head outputs);
  - TransformerLens 4.x TransformerBridge.run_with_cache (if installed).
Prints wall time per forward and the MiB of activations each returns, with ratios to the
HF floor.

Usage: .venv/bin/python scripts/bench_forward.py [--layers 6 --d-model 512 --seq 256 --batch 8]
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_common import word_tokenizer
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

from tracker.models import get_adapter


def tensor_bytes(obj) -> int:
    """Bytes of every tensor reachable in an output (tuples, dicts, dataclasses, caches)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    if hasattr(obj, "items"):
        return sum(tensor_bytes(v) for _, v in obj.items())
    if hasattr(obj, "__dict__"):
        return sum(tensor_bytes(v) for v in vars(obj).values())
    return 0


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median seconds per call and MiB of tensors the call returns (activations kept)."""
    held = tensor_bytes(fn()) / 2**20  # also the warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], held


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = GPTNeoXConfig(vocab_size=50304, hidden_size=args.d_model,
                           num_hidden_layers=args.layers, num_attention_heads=args.heads,
                           intermediate_size=4 * args.d_model, max_position_embeddings=2048,
                           rotary_pct=0.25)
    config._attn_implementation = "eager"
    model = GPTNeoXForCausalLM(config).eval()
    ids = torch.randint(0, 50000, (args.batch, args.seq))
    adapter = get_adapter(model)
    rows = []
    with torch.no_grad():
        rows.append(("hf logits only", *timed(lambda: model(ids), args.repeats)))
        rows.append(("hf + attentions + hidden", *timed(
            lambda: model(ids, output_attentions=True, output_hidden_states=True), args.repeats)))
        rows.append(("tracker patterns + resid", *timed(
            lambda: adapter.forward(ids, {"patterns", "resid"}), args.repeats)))
        rows.append(("tracker + head_out + mlp_out", *timed(
            lambda: adapter.forward(ids, {"patterns", "resid", "head_out", "mlp_out"}),
            args.repeats)))
        try:
            from transformer_lens.model_bridge import TransformerBridge

            # A tokenizer is required; an in-memory one needs these two fields to boot offline.
            tok = word_tokenizer(64)
            tok.init_kwargs["name_or_path"] = "in-memory"
            tok.init_kwargs["add_bos_token"] = True
            bridge = TransformerBridge.boot_transformers("EleutherAI/pythia-70m", hf_model=model,
                                                         tokenizer=tok)
            rows.append(("transformerlens run_with_cache", *timed(
                lambda: bridge.run_with_cache(ids), args.repeats)))
        except Exception as exc:  # noqa: BLE001 - optional comparison
            print(f"(TransformerLens comparison skipped: {type(exc).__name__}: {exc})")
    floor_t, floor_m = rows[0][1], max(rows[0][2], 1e-9)
    print(f"GPT-NeoX {args.layers}L d{args.d_model} H{args.heads}, batch {args.batch} x "
          f"seq {args.seq}, {torch.get_num_threads()} threads")
    print(f"{'method':<32}{'ms/forward':>12}{'x floor':>9}{'held MiB':>10}{'x floor':>9}")
    for name, seconds, mib in rows:
        print(f"{name:<32}{seconds * 1e3:>12.1f}{seconds / floor_t:>9.2f}{mib:>10.1f}"
              f"{mib / floor_m:>9.2f}")


if __name__ == "__main__":
    main()
