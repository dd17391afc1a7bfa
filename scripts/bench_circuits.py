"""Benchmark: seconds per checkpoint per task of EAP and EAP-IG, measured side by side.

    python scripts/bench_circuits.py [--cache /tmp/org-root/hub] [--repo organisms/neox-l-seed0]
        [--revisions step1600] [--tasks ioi greater_than successor] [--n-examples 32]
        [--seq 20] [--threads N] [--repeats 3] [--out bench_circuits.json] [--smoke]

Two models, same run, same settings:
  - the largest organism (skipped with a note when its cache is absent), on its tasks;
  - a Pythia-70m-shaped GPT-NeoX with random weights (6 layers, d_model 512, 8 heads,
    intermediate 2048, vocab 50304, rotary_pct 0.25, parallel residual; built from its config,
    nothing downloaded) on a synthetic task: random prompts of ``--seq`` tokens, the corrupted
    twin changes a few positions, metric the logit difference of two random answer tokens.

EAP is two no-grad forwards (clean, corrupted) and one forward+backward per batch; EAP-IG with
m steps is the same two forwards and m forward+backward passes. So the EAP-IG / EAP ratio is
compared with its ideal (about (2 + 3m) / 5 if a backward costs two forwards) and
``(t_IG - t_EAP) / (m - 1)`` is the measured cost of one forward+backward. Times are medians
of ``--repeats`` runs after one warm-up; m is ``AttributionConfig``'s default.
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
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

from tracker.circuits import AttributionConfig, CircuitGraph
from tracker.circuits.attribution import eap_ig_scores, eap_scores
from tracker.circuits.tasks import CircuitTask, load_task
from tracker.models.gpt_neox import GPTNeoXAdapter

#: Pythia-70m's shape; ``--smoke`` swaps in a tiny one.
PYTHIA_70M: dict[str, Any] = dict(
    vocab_size=50304, hidden_size=512, num_hidden_layers=6, num_attention_heads=8,
    intermediate_size=2048, rotary_pct=0.25, use_parallel_residual=True,
    max_position_embeddings=2048)
TINY: dict[str, Any] = dict(
    vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    intermediate_size=64, rotary_pct=0.25, use_parallel_residual=True,
    max_position_embeddings=128)


def random_model(shape: dict[str, Any], seed: int = 0) -> GPTNeoXForCausalLM:
    """A GPT-NeoX of ``shape`` (config keywords) with its own random initialisation."""
    torch.manual_seed(seed)
    config = GPTNeoXConfig(**shape)
    config._attn_implementation = "eager"
    return GPTNeoXForCausalLM(config).eval()


def random_task(vocab: int, n: int, seq: int, n_changed: int = 3, seed: int = 0
                ) -> CircuitTask:
    """Random clean prompts; the corrupted twin redraws ``n_changed`` positions (not the last).

    The metric is the logit difference of two random tokens per example at the last position.
    """
    gen = torch.Generator().manual_seed(seed)
    clean = torch.randint(1, vocab, (n, seq), generator=gen)
    corrupt = clean.clone()
    for row in range(n):
        where = torch.randperm(seq - 1, generator=gen)[:n_changed]
        corrupt[row, where] = torch.randint(1, vocab, (len(where),), generator=gen)
    pairs = torch.randint(1, vocab, (n, 2), generator=gen).tolist()
    return CircuitTask("random_pairs", "logit_diff", clean, corrupt,
                       torch.full((n,), seq - 1), tuple((a,) for a, _ in pairs),
                       tuple((b,) for _, b in pairs))


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench(model: GPTNeoXForCausalLM, task: CircuitTask, repeats: int,
          config: AttributionConfig) -> dict[str, float]:
    """Median seconds of EAP and EAP-IG on one model and task, and what they imply."""
    graph = CircuitGraph.from_config(model.config)
    args = (graph, GPTNeoXAdapter(model), task.clean, task.corrupt, task.metric())
    t_eap = _median_seconds(lambda: eap_scores(*args, config), repeats)
    t_ig = _median_seconds(lambda: eap_ig_scores(*args, config), repeats)
    m = config.ig_steps
    return {"n_edges": graph.n_edges, "n_examples": task.n_examples,
            "seq": int(task.clean.shape[1]), "ig_steps": m, "eap_s": t_eap, "eap_ig_s": t_ig,
            "ratio": t_ig / t_eap, "ideal_ratio": (2 + 3 * m) / 5,
            "fwd_bwd_s": (t_ig - t_eap) / (m - 1) if m > 1 else float("nan")}


def organism_rows(args: argparse.Namespace, config: AttributionConfig) -> list[dict[str, Any]]:
    """Bench the organism's checkpoints and tasks; empty (with a note) when it is absent."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows: list[dict[str, Any]] = []
    for rev in args.revisions:
        kw = {"revision": rev, "cache_dir": args.cache, "local_files_only": True}
        start = time.perf_counter()
        try:
            model = AutoModelForCausalLM.from_pretrained(args.repo, **kw).eval()
            tok = AutoTokenizer.from_pretrained(args.repo, **kw)
        except OSError as err:
            print(f"(organism {args.repo}@{rev} skipped: not in {args.cache}: "
                  f"{type(err).__name__})")
            continue
        load_s = time.perf_counter() - start
        for name in args.tasks:
            task = load_task(name, tok, model.config.bos_token_id, args.n_examples)
            rows.append({"model": f"{args.repo}@{rev}", "task": name, "load_s": load_s,
                         **bench(model, task, args.repeats, config)})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """One line per (model, task): seconds, the ratio against its ideal, one fwd+bwd."""
    head = (f"{'model':<34}{'task':<14}{'edges':>6}{'N x T':>8}{'EAP s':>8}{'IG s':>8}"
            f"{'IG/EAP':>8}{'ideal':>7}{'fwd+bwd ms':>11}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['model']:<34}{r['task']:<14}{r['n_edges']:>6}"
                     f"{str(r['n_examples']) + 'x' + str(r['seq']):>8}{r['eap_s']:>8.2f}"
                     f"{r['eap_ig_s']:>8.2f}{r['ratio']:>8.1f}{r['ideal_ratio']:>7.1f}"
                     f"{r['fwd_bwd_s'] * 1e3:>11.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default="/tmp/org-root/hub")
    parser.add_argument("--repo", default="organisms/neox-l-seed0")
    parser.add_argument("--revisions", nargs="+", default=["step1600"])
    parser.add_argument("--tasks", nargs="+", default=["ioi", "greater_than", "successor"])
    parser.add_argument("--n-examples", type=int, default=32)
    parser.add_argument("--seq", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench_circuits.json"))
    parser.add_argument("--smoke", action="store_true",
                        help="tiny random model, no organism, 2 IG steps: checks the script")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = AttributionConfig(batch_size=args.n_examples)
    if args.smoke:
        config = AttributionConfig(ig_steps=2, batch_size=args.n_examples)
    rows = [] if args.smoke else organism_rows(args, config)
    shape = TINY if args.smoke else PYTHIA_70M
    name = "random tiny" if args.smoke else "random pythia-70m shape"
    task = random_task(shape["vocab_size"], args.n_examples, args.seq)
    rows.append({"model": name, "task": task.name, "load_s": 0.0,
                 **bench(random_model(shape), task, args.repeats, config)})
    print(f"EAP vs EAP-IG (m = {config.ig_steps}), batch of {args.n_examples}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print(table(rows))
    args.out.write_text(json.dumps({"threads": torch.get_num_threads(),
                                    "ig_steps": config.ig_steps, "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return rows


if __name__ == "__main__":
    main()
