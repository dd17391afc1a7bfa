"""How well EAP and EAP-IG agree with exact per-edge patching, as a function of IG steps m.

    python scripts/circuit_agreement.py [--cache /tmp/org-root/hub]
        [--repo organisms/neox-l-seed0] [--revisions step400 step800 step1600]
        [--tasks ioi greater_than successor] [--m 1 2 5 10 20 30 50] [--n-examples 64]
        [--out agreement.json]

For every (checkpoint, task) it computes, on the same examples, the exact score of every edge
(the metric change when that edge alone reads the corrupted run), EAP, and EAP-IG at each m;
all three share one sign convention (``metric(patched) - metric(clean)``, see
``tracker/circuits/attribution.py``), so signed scores are compared as they are. Agreement
is read on the top ``--top`` edges by |exact| (the issue's criterion: Spearman >= 0.8 between
EAP-IG and exact over the top 100 edges):

* ``rho``: Spearman of signed scores over those edges (what the criterion names);
* ``rho_abs``: Spearman of absolute scores over the same edges (ranking by importance only);
* ``overlap``: share of exact's top edges among the method's own top edges by |score|.

Each method's wall time is measured in the same run. m = 1 is EAP itself (one gradient at the
clean end): a check that the two code paths agree. The plateau is the smallest m from which
the mean ``rho`` over all (checkpoint, task) stays within ``--tol`` of its value at the largest
m: where more steps stop changing the answer, whether or not agreement with single-edge
patching rises on the way (it need not: exact patching moves one edge with every other edge
clean, where EAP's gradient is taken, while EAP-IG averages gradients along a path on which
every input moves towards the corrupted run). The same plateau is found for each (checkpoint,
task) alone; ``plateau_m_every`` is the m from which all of them have settled.
``converged`` is the same agreement measured against EAP-IG at the largest m instead of exact
patching (its top edges by |score|).
``--from-json FILE`` reprints the table and summary of a saved run without recomputing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from tracker.circuits import AttributionConfig, CircuitGraph
from tracker.circuits.attribution import eap_ig_scores, eap_scores, exact_edge_scores
from tracker.circuits.tasks import CircuitTask, load_task
from tracker.models.gpt_neox import GPTNeoXAdapter

CRITERION = 0.8


def agreement(exact: np.ndarray, approx: np.ndarray, top: int = 100) -> dict[str, float]:
    """Rank agreement of ``approx`` with ``exact`` on exact's ``top`` edges by |score|.

    Returns:
        ``rho`` (Spearman, signed), ``rho_abs`` (Spearman of absolute values) and
        ``overlap`` (share of exact's top edges among approx's top edges by |score|).
    """
    k = min(top, len(exact))
    ref = np.argsort(-np.abs(exact), kind="stable")[:k]
    own = np.argsort(-np.abs(approx), kind="stable")[:k]
    return {
        "rho": float(spearmanr(exact[ref], approx[ref]).statistic),
        "rho_abs": float(spearmanr(np.abs(exact[ref]), np.abs(approx[ref])).statistic),
        "overlap": len(set(ref.tolist()) & set(own.tolist())) / k,
    }


def _timed(fn: Any) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _mean_metric(model: Any, task: CircuitTask, tokens: torch.Tensor) -> float:
    with torch.no_grad():
        logits = model(tokens).logits
    return float(task.metric()(logits, torch.arange(task.n_examples)).mean())


def measure(model: Any, task: CircuitTask, ms: list[int], batch_size: int, top: int = 100
            ) -> dict[str, Any]:
    """Exact, EAP and EAP-IG at each m on one model and task; agreement and seconds of each."""
    graph = CircuitGraph.from_config(model.config)
    adapter = GPTNeoXAdapter(model)
    metric = task.metric()
    args = (graph, adapter, task.clean, task.corrupt, metric)
    config = AttributionConfig(batch_size=batch_size)
    exact, t_exact = _timed(lambda: exact_edge_scores(*args, config))
    eap, t_eap = _timed(lambda: eap_scores(*args, config))
    row: dict[str, Any] = {
        "n_examples": task.n_examples, "n_edges": graph.n_edges,
        "metric_clean": _mean_metric(model, task, task.clean),
        "metric_corrupt": _mean_metric(model, task, task.corrupt),
        "exact_seconds": t_exact,
        "eap": {**agreement(exact, eap, top), "seconds": t_eap},
        "eap_ig": {},
    }
    igs = {}
    for m in ms:
        cfg = AttributionConfig(ig_steps=m, batch_size=batch_size)
        igs[m], t_ig = _timed(lambda cfg=cfg: eap_ig_scores(*args, cfg))
        row["eap_ig"][str(m)] = {**agreement(exact, igs[m], top), "seconds": t_ig}
    limit = igs[max(ms)]
    for m in ms:
        row["eap_ig"][str(m)]["converged"] = agreement(limit, igs[m], top)
    return row


def plateau(rows: list[dict[str, Any]], ms: list[int], tol: float, key: str = "rho"
            ) -> tuple[int, dict[int, float]]:
    """Smallest m from which the mean ``key`` stays within ``tol`` of its largest-m value.

    Returns:
        That m and the mean ``key`` over rows at every m.
    """
    means = {m: float(np.mean([r["eap_ig"][str(m)][key] for r in rows])) for m in ms}
    order = sorted(ms)
    limit = means[order[-1]]
    settled = [m for i, m in enumerate(order)
               if all(abs(means[n] - limit) <= tol for n in order[i:])]
    return settled[0], means


def table(results: list[dict[str, Any]], ms: list[int]) -> str:
    """Markdown table: one line per (revision, task), rho / rho_abs / overlap per method."""
    head = ["revision", "task", "metric clean/corrupt", "exact s", "EAP rho/abs/ovl", "EAP s"]
    head += [f"IG m={m} rho/abs/ovl" for m in ms] + [f"IG m={m} s" for m in ms]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(x: dict[str, float]) -> str:
        return f"{x['rho']:.3f}/{x['rho_abs']:.3f}/{x['overlap']:.2f}"

    for r in results:
        parts = [r["revision"], r["task"], f"{r['metric_clean']:.2f}/{r['metric_corrupt']:.2f}",
                 f"{r['exact_seconds']:.1f}", cell(r["eap"]),
                 f"{r['eap']['seconds']:.2f}"]
        parts += [cell(r["eap_ig"][str(m)]) for m in ms]
        parts += [f"{r['eap_ig'][str(m)]['seconds']:.2f}" for m in ms]
        lines.append("| " + " | ".join(parts) + " |")
    return "\n".join(lines)


def summary(results: list[dict[str, Any]], ms: list[int], tol: float) -> dict[str, Any]:
    """Plateau m (signed and absolute), mean agreement per m, and the criterion's verdict."""
    m_rho, rho = plateau(results, ms, tol, "rho")
    m_abs, rho_abs = plateau(results, ms, tol, "rho_abs")
    _, overlap = plateau(results, ms, tol, "overlap")

    each = [plateau([r], ms, tol)[0] for r in results]
    m_all = max(each)

    def worst(key: str, m: int) -> float:
        return float(min(r["eap_ig"][str(m)][key] for r in results))

    def passing(m: int | None) -> int:
        return sum((r["eap"] if m is None else r["eap_ig"][str(m)])["rho"] >= CRITERION
                   for r in results)
    return {
        "plateau_m_rho": m_rho, "plateau_m_rho_abs": m_abs, "tol": tol,
        "plateau_m_each": {f"{r['revision']} {r['task']}": m
                           for r, m in zip(results, each, strict=True)},
        "plateau_m_every": m_all,
        "rows_passing": {"eap": passing(None), **{m: passing(m) for m in ms}},
        "mean_rho": rho, "mean_rho_abs": rho_abs, "mean_overlap": overlap,
        "min_rho": {m: worst("rho", m) for m in ms},
        "eap_mean_rho": float(np.mean([r["eap"]["rho"] for r in results])),
        "eap_mean_rho_abs": float(np.mean([r["eap"]["rho_abs"] for r in results])),
        "eap_mean_overlap": float(np.mean([r["eap"]["overlap"] for r in results])),
        "eap_min_rho": float(min(r["eap"]["rho"] for r in results)),
        "criterion_holds_at_plateau": bool(worst("rho", m_rho) >= CRITERION),
        "best_m_rho": max(ms, key=lambda m: rho[m]),
        "converged_rho": {m: float(np.mean([r["eap_ig"][str(m)]["converged"]["rho"]
                                            for r in results if "converged" in r["eap_ig"][str(m)]]
                                           or [np.nan])) for m in ms},
    }


def report(repo: str, args: dict[str, Any], results: list[dict[str, Any]], tol: float
           ) -> dict[str, Any]:
    """Print the table and the summary of a run; return the summary."""
    ms = [int(m) for m in args["m"]]
    summ = summary(results, ms, tol)
    print(f"\n{repo}, {args['n_examples']} examples, top {args['top']} edges by |exact|, "
          f"{args.get('threads', '?')} threads; cells: Spearman signed / Spearman |.| / top-k "
          "overlap\n")
    print(table(results, ms))
    for key in ("rho", "rho_abs", "overlap"):
        print(f"\nmean {key} per m: " + ", ".join(
            f"{m}: {v:.3f}" for m, v in summ[f"mean_{key}"].items()), end="")
    print("\nmin rho per m: " + ", ".join(f"{m}: {v:.3f}" for m, v in summ["min_rho"].items()))
    print("mean rho against EAP-IG at the largest m: " + ", ".join(
        f"{m}: {v:.3f}" for m, v in summ["converged_rho"].items()))
    print(f"EAP: mean rho {summ['eap_mean_rho']:.3f}, min {summ['eap_min_rho']:.3f}, mean "
          f"rho_abs {summ['eap_mean_rho_abs']:.3f}, mean overlap {summ['eap_mean_overlap']:.2f}")
    print(f"plateau (mean rho stays within {tol} of its value at m = {max(ms)}): m = "
          f"{summ['plateau_m_rho']} (absolute scores: m = {summ['plateau_m_rho_abs']}); best "
          f"mean rho at m = {summ['best_m_rho']}; rho >= {CRITERION} on every checkpoint and "
          f"task at the plateau: {summ['criterion_holds_at_plateau']}, with EAP: "
          f"{summ['eap_min_rho'] >= CRITERION}")
    print("plateau per checkpoint and task: " + ", ".join(
        f"{k}: {m}" for k, m in summ["plateau_m_each"].items())
        + f"; reached everywhere from m = {summ['plateau_m_every']}")
    print(f"rows with rho >= {CRITERION} (of {len(results)}): " + ", ".join(
        f"{'EAP' if k == 'eap' else 'm=' + str(k)}: {v}" for k, v in summ["rows_passing"].items()))
    return summ


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default="/tmp/org-root/hub")
    parser.add_argument("--repo", default="organisms/neox-l-seed0")
    parser.add_argument("--revisions", nargs="+", default=["step400", "step800", "step1600"])
    parser.add_argument("--tasks", nargs="+", default=["ioi", "greater_than", "successor"])
    parser.add_argument("--m", nargs="+", type=int, default=[1, 2, 5, 10, 20, 30, 50])
    parser.add_argument("--n-examples", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--top", type=int, default=100)
    parser.add_argument("--tol", type=float, default=0.01,
                        help="plateau: mean rho stays within this of its largest-m value")
    parser.add_argument("--from-json", type=Path, help="reprint a saved run, computing nothing")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--out", type=Path, default=Path("circuit_agreement.json"))
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        report(saved["repo"], saved["args"], saved["results"], args.tol)
        return
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    for rev in args.revisions:
        kw = {"revision": rev, "cache_dir": args.cache, "local_files_only": True}
        model = AutoModelForCausalLM.from_pretrained(args.repo, **kw).eval()
        tok = AutoTokenizer.from_pretrained(args.repo, **kw)
        for name in args.tasks:
            task = load_task(name, tok, model.config.bos_token_id, args.n_examples)
            row = measure(model, task, args.m, args.batch_size, args.top)
            results.append({"revision": rev, "task": name, **row})
            ig = " ".join(f"m{m}={row['eap_ig'][str(m)]['rho']:.3f}" for m in args.m)
            print(f"{rev} {name}: exact {row['exact_seconds']:.0f}s, EAP rho "
                  f"{row['eap']['rho']:.3f}, EAP-IG {ig}", flush=True)
    saved_args = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    saved_args["threads"] = torch.get_num_threads()
    summ = report(args.repo, saved_args, results, args.tol)
    args.out.write_text(json.dumps({"repo": args.repo, "args": saved_args, "results": results,
                                    "summary": summ}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
