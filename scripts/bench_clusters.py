"""Benchmark: the token-cluster probe's added cost per checkpoint beside its forward pass.

    python scripts/bench_clusters.py [--cache /tmp/org-root/hub]
        [--repos organisms/neox-l-seed0 organisms/deep-l12-seed0] [--revision step1600]
        [--dataset /tmp/org-root/corpus/fe11b52e37711d73/dataset] [--deep-cache /tmp/org-deep/hub]
        [--threads N] [--repeats 3] [--out bench_clusters.json] [--smoke]

Per model, in one run and on the same prompts (the probe's default config: 8 prompts of 128
tokens and the control, after BOS):
  - ``forward_s``: the hooked forward pass the probe needs (residual stream at every layer
    boundary), alone;
  - ``probe_s``: the whole probe (its forward, the per-prompt analysis, the OV spectra);
  - ``added_s = probe_s - forward_s``: what the probe adds to a checkpoint, and
    ``spectra_s``, the part of it spent on the weights' eigenvalues.
The analysis is O(n^2 d) per boundary for the Gram matrix plus O(n^3) for eigenvalues and the
clusterings of n tokens, so ``added_s`` grows with the number of layers, not with the width.
Models: the organisms named (skipped with a note when absent) and a Pythia-70m-shaped GPT-NeoX
with random weights (built from its config, nothing downloaded) on random token documents.
Times are medians of ``--repeats`` runs after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_common import word_tokenizer
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

from tracker.probes import ProbeContext
from tracker.probes.clusters import ClustersConfig, ClustersProbe
from tracker.probes.clusters.spectra import layer_spectra

PYTHIA_70M = dict(vocab_size=50304, hidden_size=512, num_hidden_layers=6, num_attention_heads=8,
                  intermediate_size=2048, rotary_pct=0.25, use_parallel_residual=True,
                  max_position_embeddings=2048)
TINY = dict(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, rotary_pct=0.25, use_parallel_residual=True,
            max_position_embeddings=128)


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench(model: Any, tokenizer: Any, source: Any, config: ClustersConfig,
          repeats: int) -> dict[str, float]:
    """Median seconds of the probe's forward pass alone, the whole probe, and its spectra."""
    probe = ClustersProbe(config)

    def context() -> ProbeContext:
        ctx = ProbeContext(model, tokenizer)  # fresh: no forward pass memoised from before
        ctx.scratch["text_dataset"] = source
        return ctx

    tokens = probe._tokens(context())
    if tokens is None:
        raise ValueError("no document is long enough for the probe's prompts")

    def whole() -> None:
        ctx = context()
        probe.declare(ctx)
        probe.run(ctx)

    forward_s = _median_seconds(lambda: context().forward(tokens, {"resid"}), repeats)
    probe_s = _median_seconds(whole, repeats)
    spectra_s = _median_seconds(lambda: layer_spectra(context().adapter), repeats)
    return {"n_layers": int(model.config.num_hidden_layers),
            "d_model": int(model.config.hidden_size), "prompts": int(tokens.shape[0] - 1),
            "tokens": int(tokens.shape[1]), "forward_s": forward_s, "probe_s": probe_s,
            "added_s": probe_s - forward_s, "spectra_s": spectra_s,
            "added_per_layer_ms": 1e3 * (probe_s - forward_s)
            / (model.config.num_hidden_layers + 1)}


def organism_rows(args: argparse.Namespace, config: ClustersConfig) -> list[dict[str, Any]]:
    """Bench each organism named; those absent from their cache are skipped with a note."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tracker.probes.text_data import resolve_text_dataset

    rows: list[dict[str, Any]] = []
    for repo in args.repos:
        cache = args.deep_cache if "/deep-" in repo else args.cache
        kw = {"revision": args.revision, "cache_dir": cache, "local_files_only": True}
        try:
            model = AutoModelForCausalLM.from_pretrained(repo, **kw).eval()
            tok = AutoTokenizer.from_pretrained(repo, **kw)
        except OSError as err:
            print(f"(organism {repo}@{args.revision} skipped: not in {cache}: "
                  f"{type(err).__name__})")
            continue
        source = resolve_text_dataset(ProbeContext(model, tok), args.dataset)
        rows.append({"model": f"{repo}@{args.revision}",
                     **bench(model, tok, source, config, args.repeats)})
    return rows


def random_row(shape: dict[str, Any], name: str, config: ClustersConfig,
               repeats: int) -> dict[str, Any]:
    """Bench a randomly initialised GPT-NeoX of ``shape`` on random token documents."""
    torch.manual_seed(0)
    hf_config = GPTNeoXConfig(**shape)
    hf_config._attn_implementation = "eager"
    model = GPTNeoXForCausalLM(hf_config).eval()
    gen = np.random.default_rng(0)
    docs = gen.integers(1, shape["vocab_size"], size=(config.n_prompts, config.prompt_tokens))
    return {"model": name, **bench(model, word_tokenizer(shape["vocab_size"]), docs.tolist(),
                                   config, repeats)}


def table(rows: list[dict[str, Any]]) -> str:
    """One line per model: forward, whole probe, added cost (and its spectra part)."""
    head = (f"{'model':<36}{'L':>3}{'d':>5}{'P x T':>9}{'forward s':>10}{'probe s':>9}"
            f"{'added s':>9}{'spectra s':>10}{'added/bnd ms':>13}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['model']:<36}{r['n_layers']:>3}{r['d_model']:>5}"
                     f"{str(r['prompts'] + 1) + 'x' + str(r['tokens']):>9}"
                     f"{r['forward_s']:>10.3f}{r['probe_s']:>9.3f}{r['added_s']:>9.3f}"
                     f"{r['spectra_s']:>10.3f}{r['added_per_layer_ms']:>13.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default="/tmp/org-root/hub")
    parser.add_argument("--deep-cache", default="/tmp/org-deep/hub")
    parser.add_argument("--repos", nargs="+",
                        default=["organisms/neox-l-seed0", "organisms/deep-l12-seed0"])
    parser.add_argument("--revision", default="step1600")
    parser.add_argument("--dataset", default="/tmp/org-root/corpus/fe11b52e37711d73/dataset")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench_clusters.json"))
    parser.add_argument("--smoke", action="store_true",
                        help="tiny random model only, short prompts: checks the script")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = ClustersConfig(n_prompts=3, prompt_tokens=16) if args.smoke else ClustersConfig()
    rows = [] if args.smoke else organism_rows(args, config)
    shape, name = (TINY, "random tiny") if args.smoke else (PYTHIA_70M, "random pythia-70m shape")
    rows.append(random_row(shape, name, config, args.repeats))
    print(f"token-cluster probe vs its forward pass, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    print(table(rows))
    args.out.write_text(json.dumps({"threads": torch.get_num_threads(), "rows": rows},
                                   indent=1))
    print(f"wrote {args.out}")
    return rows


if __name__ == "__main__":
    main()
