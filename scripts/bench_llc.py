"""Benchmark: the llc probe's cost per checkpoint, the calibrated setting beside the old default.

    python scripts/bench_llc.py [--cache /tmp/org-root/hub] [--repo organisms/neox-s-seed0]
        [--revision step1800] [--dataset /tmp/org-root/corpus/fe11b52e37711d73/dataset]
        [--threads 1] [--repeats 1] [--out bench_llc.json]

On one checkpoint of an organism (trained by ``tracker organisms train``; nothing is
downloaded) and the same token windows, it times the whole probe (``LLCProbe.run``: devinterp's
initial loss and every SGLD step of every chain) for

* ``default``: the probe's config now (calibrated on the organism suite, README
  "Developmental stages"), and
* ``previous``: the first default, devinterp's ``sample`` defaults (4 chains x 200 draws, batch
  32, n_beta b / ln b) with step size 1e-4, which did not settle on these models,

and prints, side by side, SGLD steps per checkpoint, wall and CPU seconds per checkpoint
(medians of ``--repeats`` after building the windows; with one thread the CPU time is what a
quiet machine's wall time would be), wall milliseconds per SGLD step and the LLC +- its chain
spread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from tracker.probes import ProbeContext
from tracker.probes.llc import LLCConfig, LLCProbe, devinterp_available
from tracker.sources import open_series

PREVIOUS = LLCConfig(lr=1e-4, n_beta=0.0, num_chains=4, num_draws=200, num_burnin_steps=0,
                     batch_size=32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default="/tmp/org-root/hub")
    parser.add_argument("--repo", default="organisms/neox-s-seed0")
    parser.add_argument("--revision", default="step1800")
    parser.add_argument("--dataset", default="/tmp/org-root/corpus/fe11b52e37711d73/dataset")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default=None, help="also write the rows as JSON")
    args = parser.parse_args()
    if not devinterp_available():
        print("devinterp is not installed: pip install 'tracker[devinterp]'")
        return 1
    if not Path(args.dataset).exists():
        print(f"no dataset at {args.dataset} (train the suite: tracker organisms train)")
        return 1
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TQDM_DISABLE", "1")
    series = open_series(args.repo, cache_dir=args.cache)
    (checkpoint,) = [c for c in series.checkpoints() if c.revision == args.revision]
    loaded = series.load(checkpoint, device="cpu")
    ctx = ProbeContext(loaded.model, loaded.tokenizer)
    rows = []
    for name, cfg in (("default", LLCConfig()), ("previous", PREVIOUS)):
        probe = LLCProbe(cfg).with_text(Path(args.dataset))
        probe.windows(ctx)  # tokenizing the corpus is shared by every checkpoint of a sweep
        times, cpu, out = [], [], {}
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            out = dict(probe.run(ctx))
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        sgld_steps = cfg.num_chains * (cfg.num_draws + cfg.num_burnin_steps)
        seconds = statistics.median(times)
        rows.append({"setting": name, "lr": cfg.lr, "n_beta": cfg.n_beta,
                     "chains": cfg.num_chains, "draws": cfg.num_draws,
                     "burnin": cfg.num_burnin_steps, "batch": cfg.batch_size,
                     "sgld_steps": sgld_steps, "seconds": seconds,
                     "cpu_seconds": statistics.median(cpu),
                     "ms_per_step": 1000 * seconds / sgld_steps, "llc": float(out["llc"]),
                     "llc_std": float(out["llc_std"]), "settled": int(out["llc_settled"])})
    print(f"{args.repo} @ {args.revision}, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'setting':<9} {'lr':>7} {'n_beta':>7} {'chains x draws+burn-in, batch':>30} "
          f"{'steps':>6} {'s/ckpt':>7} {'cpu s':>7} {'ms/step':>8} {'LLC +- std':>16} settled")
    for r in rows:
        shape = f"{r['chains']} x {r['draws']}+{r['burnin']}, b={r['batch']}"
        print(f"{r['setting']:<9} {r['lr']:>7g} {r['n_beta']:>7g} {shape:>30} "
              f"{r['sgld_steps']:>6} {r['seconds']:>7.2f} {r['cpu_seconds']:>7.2f} "
              f"{r['ms_per_step']:>8.1f} "
              f"{r['llc']:>8.2f} +- {r['llc_std']:<5.2f} {r['settled']:>7}")
    default, previous = rows
    print(f"previous / default: {previous['seconds'] / default['seconds']:.1f}x the wall time, "
          f"{previous['cpu_seconds'] / default['cpu_seconds']:.1f}x the CPU time")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
