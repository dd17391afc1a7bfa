"""Benchmark: tracker's sweep against the TransformerLens loop and the load + forward floor.

Side by side in one run, on the same checkpoints and probes (induction family, successor heads,
attention sinks, copying), each mode in its own process so peak memory is its own:

  - ``tracker``: ``tracker.runner.sweep`` into a fresh store (per-checkpoint wall time);
  - ``tracker_serial_reads``: the same without reading the next checkpoint ahead (its disk
    reads in series with compute, as the floor's are);
  - ``tracker_lean_malloc``: the same with glibc's mmap threshold fixed (Linux, CPU);
  - ``stages``: the same work stage by stage (list revisions, load, weight identity, forward,
    probe math per probe, shard write), to say where the time goes;
  - ``transformer_lens``: per checkpoint, load into TransformerLens and one ``run_with_cache``
    per probe (``bench_baselines.py``); its scores are checked against tracker's (1e-3);
  - ``tl_hooked`` (with ``--hooked-transformer DIR``): the classic loop,
    ``HookedTransformer.from_pretrained(..., checkpoint_value=N)`` with its default weight
    processing, from an older TransformerLens installed in DIR beside 4.x;
  - ``floor``: loading the weights alone plus one forward over the probes' inputs;
  - ``tracker_warm`` and ``floor_warm``: both again with the series' files read into the page
    cache first, so their ratio is compute alone (disk speed moves the cold one).

Series: a Pythia-70m-shaped GPT-NeoX with random weights per step in a hub-layout cache, and
the largest model of the organism suite over its last checkpoints when the suite is trained.
Then detection (10,000 series of 154 points) and a timeline query over a 154-checkpoint store.
The first checkpoint of each mode is a warm-up (imports, caches) and is left out of the means.
Each mode but the ``*_warm`` pair starts with the series' files out of the OS page cache, so
it reads its checkpoints from disk, as a sweep over a long series does.
Peak memory is the process's high-water mark above its RSS once its libraries are imported
(torch, transformers, TransformerLens for its mode), against the target 1.5 x the weights plus
the activations the probes read (every layer's patterns and residual streams).

Prints a table and writes JSON (``--json``). ``--device cuda --dtype bfloat16`` runs on a GPU.

Usage: .venv/bin/python scripts/bench_sweep.py [--steps 4] [--smoke] [--json out/bench.json]
       [--hooked-transformer DIR]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_baselines import (
    PYTHIA_70M,
    TINY,
    floor,
    hooked_transformer_loop,
    pythia_shaped_cache,
    transformer_lens_loop,
)

from tracker.probes import ProbeContext, make_probes
from tracker.probes.inputs import RepeatedTokens, repeated_tokens
from tracker.sources import CheckpointSeries, HubSeries
from tracker.sources.hf_cache import repo_folder, snapshot_folder
from tracker.sources.integrity import checkpoint_identity
from tracker.sources.loading import parse_dtype

PROBES = ["induction", "successor_heads", "attention_sinks", "copying"]
#: Metrics both tracker and the TransformerLens loop compute, compared within TOLERANCE.
AGREEMENT = ["induction_score", "prefix_matching_score", "duplicate_score", "prev_token_score",
             "sink_score", "succession_score", "copying_eigen"]
TOLERANCE = 1e-3


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _libraries_loaded(with_transformer_lens: bool = False, hooked: bool = False) -> int:
    """Import the libraries a mode uses, then return the RSS: the base its peak is read from.

    Every mode imports transformers (and the TransformerLens modes TransformerLens); their code
    and tables (~150 MB for transformers) are not memory of the work being measured.
    """
    import transformers
    import transformers.models.gpt_neox.modeling_gpt_neox  # noqa: F401 - the model class

    del transformers
    if hooked:
        import transformer_lens.HookedTransformer  # noqa: F401
    elif with_transformer_lens:
        import transformer_lens.model_bridge  # noqa: F401
    return _rss()


def _peak_since(base: int, device: str) -> int:
    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base


def _series(spec: dict[str, Any]) -> CheckpointSeries:
    return HubSeries(spec["repo"], cache_dir=spec["cache"], local_files_only=True)


def _inputs(series: CheckpointSeries, step: int, device: str, dtype: torch.dtype
            ) -> RepeatedTokens:
    """The repeated-token batch tracker's pattern probes read (the same for all of them)."""
    (probe,) = make_probes(["induction"])
    loaded = series.load(next(c for c in series.checkpoints() if c.step == step), device, dtype)
    return repeated_tokens(ProbeContext(loaded.model, loaded.tokenizer), probe.config)


def _run_tracker(spec: dict[str, Any], prefetch: bool = True) -> dict[str, Any]:
    from tracker.runner import sweep
    from tracker.store import SeriesStore

    series, device = _series(spec), spec["device"]
    dtype = parse_dtype(spec["dtype"])
    base = _libraries_loaded()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.h5"
        marks = [time.perf_counter()]
        sweep(series, store, make_probes(PROBES), steps=",".join(map(str, spec["steps"])),
              device=device, dtype=dtype, progress=False, prefetch=prefetch,
              on_step=lambda *_: marks.append(time.perf_counter()))
        total = time.perf_counter() - marks[0]
        read = SeriesStore(store)
        scores = {name: read.metric(probe, name)[-1] for probe, name in (
            [("induction", m) for m in AGREEMENT[:4]]
            + [("attention_sinks", "sink_score"), ("successor_heads", "succession_score"),
               ("copying", "copying_eigen")])}
    return {"seconds": list(np.diff(marks)), "total": total, "peak": _peak_since(base, device),
            "scores": {k: np.asarray(v).tolist() for k, v in scores.items()}}


def _run_tracker_serial_reads(spec: dict[str, Any]) -> dict[str, Any]:
    """``tracker`` without reading the next checkpoint ahead: disk reads in series with compute.

    The floor reads its weights, then runs its forward, one after the other; this mode does
    the same, so ``tracker_serial_reads / floor`` compares the work without the overlap.
    """
    return _run_tracker(spec, prefetch=False)


def _run_tracker_lean(spec: dict[str, Any]) -> dict[str, Any]:
    """``tracker`` with glibc's mmap threshold fixed at 4 MB (``MALLOC_MMAP_THRESHOLD_``).

    glibc raises its threshold as large blocks are freed, so a sweep's per-layer tensors come
    from a heap that fragments and creeps up checkpoint by checkpoint; a fixed threshold maps
    and unmaps them instead (less memory, more page faults).
    """
    import ctypes

    ctypes.CDLL("libc.so.6").mallopt(-3, 4 << 20)  # M_MMAP_THRESHOLD
    return _run_tracker(spec)


def _run_stages(spec: dict[str, Any]) -> dict[str, Any]:
    from tracker.runner import run_probes
    from tracker.store import StepShard, write_shard

    series, device = _series(spec), spec["device"]
    dtype = parse_dtype(spec["dtype"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for step in spec["steps"]:
            row: dict[str, float] = {}
            start = time.perf_counter()
            ckpt = next(c for c in series.checkpoints() if c.step == step)
            row["list revisions"] = time.perf_counter() - start
            start = time.perf_counter()
            loaded = series.load(ckpt, device=device, dtype=dtype)
            row["load + identity"] = time.perf_counter() - start
            start = time.perf_counter()
            checkpoint_identity(loaded.model, snapshot_folder(spec["cache"], spec["repo"],
                                                              ckpt.revision), dtype)
            row["weight identity"] = time.perf_counter() - start
            row["load"] = row.pop("load + identity") - row["weight identity"]
            start = time.perf_counter()
            results, ctx = run_probes(make_probes(PROBES), loaded.model, loaded.tokenizer, step)
            probes_total = time.perf_counter() - start
            row["forward"] = ctx.forward_seconds
            row["probe math"] = probes_total - ctx.forward_seconds
            # Per probe, the shared forward counts in the first probe that asked for it.
            for (name, _), result in results.items():
                row[f"  {name}"] = result.seconds
            shard = StepShard(series.series_id, series.tokens_per_step, step, ckpt.tokens,
                              ckpt.revision, loaded.weights_hash)
            shard.results.update(results)
            start = time.perf_counter()
            write_shard(Path(tmp) / "s.h5", shard)
            row["shard write"] = time.perf_counter() - start
            rows.append(row)
            weights = sum(p.numel() * p.element_size() for p in loaded.model.parameters())
            needed = _needed_activations(ctx, make_probes(["induction"])[0])
            del loaded, ctx, results
    return {"rows": rows, "weights_bytes": weights, "needed_bytes": needed}


def _needed_activations(ctx: Any, probe: Any) -> int:
    """Bytes of what the probes read of the shared pass: every layer's patterns and streams."""
    batch, seq = repeated_tokens(ctx, probe.config).tokens.shape
    adapter = ctx.adapter
    per = torch.finfo(adapter.dtype).bits // 8
    patterns = adapter.n_layers * batch * adapter.n_heads * seq * seq
    streams = (adapter.n_layers + 1) * batch * seq * adapter.d_model
    return (patterns + streams) * per


def _run_tl(spec: dict[str, Any]) -> dict[str, Any]:
    return _tl_mode(spec, hooked=False)


def _run_tl_hooked(spec: dict[str, Any]) -> dict[str, Any]:
    """The classic HookedTransformer loop, from the older TransformerLens in ``hooked_path``."""
    sys.path.insert(0, spec["hooked_path"])
    return _tl_mode(spec, hooked=True)


def _tl_mode(spec: dict[str, Any], hooked: bool) -> dict[str, Any]:
    series, device = _series(spec), spec["device"]
    dtype = parse_dtype(spec["dtype"])
    rep = _inputs(series, spec["steps"][0], device, dtype)
    base = _libraries_loaded(with_transformer_lens=True, hooked=hooked)
    loop = hooked_transformer_loop if hooked else transformer_lens_loop
    out = loop(series, spec["steps"], rep, device, dtype)
    out["peak"] = _peak_since(base, device)
    out["scores"] = {k: np.asarray(v).tolist() for k, v in out["scores"].items()}
    return out


def _run_floor(spec: dict[str, Any]) -> dict[str, Any]:
    series, device = _series(spec), spec["device"]
    dtype = parse_dtype(spec["dtype"])
    tokens = _inputs(series, spec["steps"][0], device, dtype).tokens
    base = _libraries_loaded()
    out = floor(series, spec["steps"], tokens, device, dtype)
    out["peak"] = _peak_since(base, device)
    return out


MODES = {"tracker": _run_tracker, "tracker_serial_reads": _run_tracker_serial_reads,
         "tracker_lean_malloc": _run_tracker_lean,
         "stages": _run_stages, "transformer_lens": _run_tl, "floor": _run_floor,
         "tl_hooked": _run_tl_hooked}


def _evict_from_page_cache(spec: dict[str, Any]) -> int:
    """Drop the series' files from the OS page cache; return how many files were advised.

    Every mode then reads its checkpoints from disk, as a sweep over a series larger than
    memory does. Without this the first mode read from disk and later ones partly from
    cache (this machine keeps ~1 GB of page cache and reads a 0.28 GB checkpoint cold in
    0.7-1.1 s), so mode order moved the ratios. No-op where ``posix_fadvise`` is missing.
    """
    if not hasattr(os, "posix_fadvise"):
        return 0
    advised = 0
    for path in repo_folder(spec["cache"], spec["repo"]).rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            advised += 1
    return advised


def _read_into_page_cache(spec: dict[str, Any]) -> int:
    """Read the series' files once so the mode finds them cached; return the bytes read."""
    total = 0
    for path in repo_folder(spec["cache"], spec["repo"]).rglob("*"):
        if path.is_file():
            total += len(path.read_bytes())
    return total


def _in_process(mode: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one mode in a fresh process (its own peak memory, no warm caches from another).

    A ``*_warm`` mode runs its base mode with every file read into the page cache first,
    which leaves compute alone; the others start with the series out of the page cache.
    """
    base = mode.removesuffix("_warm")
    if base != mode:
        _read_into_page_cache(spec)
    else:
        _evict_from_page_cache(spec)
    with mp.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(MODES[base], (spec,))
    return result


def _warm_mean(seconds: list[float]) -> float:
    return float(np.mean(seconds[1:] if len(seconds) > 1 else seconds))


def bench_series(name: str, spec: dict[str, Any], with_tl: bool) -> dict[str, Any]:
    """All modes on one series; per-checkpoint means, ratios, stages, peaks, agreement."""
    modes = ["tracker", "tracker_serial_reads", "stages", "floor", "tracker_warm",
             "floor_warm"] + (["transformer_lens"] if with_tl else [])
    if spec.get("hooked_path"):
        modes.append("tl_hooked")
    if sys.platform.startswith("linux") and spec["device"] == "cpu":
        modes.insert(1, "tracker_lean_malloc")
    raw = {}
    for mode in modes:
        raw[mode] = _in_process(mode, spec)
        seconds = raw[mode].get("seconds") or [sum(r.values()) for r in raw[mode]["rows"]]
        print(f"  ({name}: {mode} done, s / ckpt {', '.join(f'{s:.2f}' for s in seconds)})",
              flush=True)
    out: dict[str, Any] = {"series": name, "steps": spec["steps"], "raw": raw}
    per = {mode: _warm_mean(raw[mode]["seconds"]) for mode in modes if mode != "stages"}
    out["seconds_per_checkpoint"] = per
    out["tracker_over_floor"] = per["tracker"] / per["floor"]
    out["serial_reads_over_floor"] = per["tracker_serial_reads"] / per["floor"]
    out["warm_tracker_over_floor"] = per["tracker_warm"] / per["floor_warm"]
    rows = raw["stages"]["rows"]
    warm = rows[1:] if len(rows) > 1 else rows
    out["stages"] = {key: float(np.mean([r[key] for r in warm])) for key in rows[0]}
    out["weights_gb"] = raw["stages"]["weights_bytes"] / 1e9
    out["needed_activations_gb"] = raw["stages"]["needed_bytes"] / 1e9
    out["peak_target_gb"] = 1.5 * out["weights_gb"] + out["needed_activations_gb"]
    out["peak_gb"] = {m: raw[m]["peak"] / 1e9 for m in modes if "peak" in raw[m]}
    if with_tl:
        out["tl_over_tracker"] = per["transformer_lens"] / per["tracker"]
        out["agreement"] = _agreement(raw["tracker"]["scores"],
                                      raw["transformer_lens"]["scores"], AGREEMENT)
    if "tl_hooked" in raw:
        out["hooked_over_tracker"] = per["tl_hooked"] / per["tracker"]
        # Its default processing centres W_U and W_E and folds the norms into the weights,
        # so Elhage's eigenvalue score is of other matrices: reported, not held to 1e-3.
        out["hooked_agreement"] = _agreement(raw["tracker"]["scores"],
                                             raw["tl_hooked"]["scores"], AGREEMENT[:-1])
        out["hooked_agreement"]["copying_eigen_diff_processed"] = _max_diff(
            raw["tracker"]["scores"]["copying_eigen"], raw["tl_hooked"]["scores"]["copying_eigen"])
    return out


def _max_diff(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def _agreement(ours: dict[str, Any], theirs: dict[str, Any], metrics: list[str]
               ) -> dict[str, Any]:
    diffs = {m: _max_diff(ours[m], theirs[m]) for m in metrics}
    return {"max_abs_diff": diffs, "tolerance": TOLERANCE,
            "ok": all(d <= TOLERANCE for d in diffs.values())}


def bench_detection(n_series: int, n_points: int) -> dict[str, Any]:
    """Seconds for the default detector over ``n_series`` noisy sigmoid rises (one batch)."""
    from tracker.detect import get_detector

    rng = np.random.default_rng(0)
    x = np.log10(np.arange(1, n_points + 1, dtype=float))
    mids = rng.uniform(x[10], x[-10], n_series)
    ys = 1 / (1 + np.exp(-(x[None] - mids[:, None]) / 0.1)) + rng.normal(0, 0.03,
                                                                          (n_series, n_points))
    detector = get_detector()
    start = time.perf_counter()
    found = sum(len(cps) > 0 for cps in detector.detect_many(ys, x))
    return {"series": n_series, "points": n_points, "detector": detector.name,
            "seconds": time.perf_counter() - start, "with_change_points": int(found)}


def bench_timeline(n_checkpoints: int) -> dict[str, Any]:
    """Seconds to detect and to query the full timeline of a 6 x 8-head store."""
    from tracker.events import detect_stores, read_events, timeline
    from tracker.metric import Metric
    from tracker.store import ProbeResult, SeriesStore, StepShard, consolidate, write_shard

    rng = np.random.default_rng(0)
    steps = sorted({0, *[2 ** i for i in range(10)], *range(1000, 1000 * (n_checkpoints - 10),
                                                              1000)})[:n_checkpoints]
    metric = Metric(name="induction_score", kind="head", description="planted",
                    higher_is_mechanism=True, threshold=0.4)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "planted.h5"
        for i, step in enumerate(steps):
            shard = StepShard("planted/series", 2048, step, step * 2048, f"step{step}", f"h{i}")
            result = ProbeResult("induction", 1, "{}", "0" * 16)
            values = 0.05 + rng.normal(0, 0.01, (6, 8))
            values[1:, :3] += 0.8 * (i > len(steps) // 2)
            result.add(metric, values.astype(np.float32))
            shard.results[("induction", result.key)] = result
            write_shard(store, shard)
        consolidate(store, {"kind": "planted"})
        start = time.perf_counter()
        detect_stores([store])
        detect = time.perf_counter() - start
        start = time.perf_counter()
        table = timeline(read_events(store))
        SeriesStore(store).metric("induction", "induction_score")
        query = time.perf_counter() - start
    return {"checkpoints": len(steps), "detect_seconds": detect, "timeline_seconds": query,
            "mechanisms": len(table)}


def _table(result: dict[str, Any]) -> str:
    per, lines = result["seconds_per_checkpoint"], []
    lines.append(f"{result['series']} ({len(result['steps'])} checkpoints; weights "
                 f"{result['weights_gb']:.3f} GB)")
    lines.append(f"  {'mode':<20}{'s / ckpt':>10}{'peak GB':>10}")
    for mode, seconds in per.items():
        lines.append(f"  {mode:<20}{seconds:>10.2f}{result['peak_gb'].get(mode, 0):>10.2f}")
    lines.append(f"  tracker / floor {result['tracker_over_floor']:.2f} (reads in series "
                 f"with compute: {result['serial_reads_over_floor']:.2f}; files in the page "
                 f"cache, compute alone: {result['warm_tracker_over_floor']:.2f}); peak target "
                 f"{result['peak_target_gb']:.2f} GB (1.5 x weights + "
                 f"{result['needed_activations_gb']:.2f} GB of patterns and streams read)")
    if "tl_over_tracker" in result:
        agree = result["agreement"]
        lines.append(f"  transformer_lens / tracker {result['tl_over_tracker']:.2f}; scores "
                     f"agree within {TOLERANCE}: {agree['ok']} "
                     f"(max diff {max(agree['max_abs_diff'].values()):.1e})")
    if "hooked_over_tracker" in result:
        agree = result["hooked_agreement"]
        lines.append(f"  tl_hooked / tracker {result['hooked_over_tracker']:.2f}; pattern scores "
                     f"agree within {TOLERANCE}: {agree['ok']} "
                     f"(max diff {max(agree['max_abs_diff'].values()):.1e}); copying_eigen of "
                     f"its processed weights differs by up to "
                     f"{agree['copying_eigen_diff_processed']:.2f}")
    lines.append("  stages (s / ckpt):")
    lines.extend(f"    {stage:<22}{seconds:>8.3f}" for stage, seconds in result["stages"].items())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print the table; write JSON; return the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="Pythia-shaped checkpoints")
    parser.add_argument("--cache", type=Path, help="hub-layout cache (built if missing)")
    parser.add_argument("--smoke", action="store_true", help="a tiny model, fewer series")
    parser.add_argument("--organism-suite", default="default")
    parser.add_argument("--organism-root", help="organism artifact root (default: tracker's)")
    parser.add_argument("--organism-checkpoints", type=int, default=10)
    parser.add_argument("--no-transformer-lens", action="store_true")
    parser.add_argument("--hooked-transformer", type=Path, metavar="DIR",
                        help="folder holding an older TransformerLens with HookedTransformer "
                             "(pip install --no-deps --target DIR transformer-lens==3.9.0 "
                             "better_abc): also time its from_pretrained(checkpoint_value=N) "
                             "loop on the Pythia-shaped series")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--detect-series", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=Path("out/bench_sweep.json"))
    args = parser.parse_args(argv)
    shape = TINY if args.smoke else PYTHIA_70M
    cache = args.cache or Path(tempfile.gettempdir()) / (
        "tracker-bench-" + ("tiny" if args.smoke else "pythia-70m"))
    steps = [1000 * i for i in range(args.steps)]
    pythia_shaped_cache(cache, steps, shape)
    common = {"device": args.device, "dtype": args.dtype}
    runs = {"pythia-70m shape": {"repo": "EleutherAI/pythia-70m", "cache": str(cache),
                                 "steps": steps, **common}}
    if args.hooked_transformer:
        runs["pythia-70m shape"]["hooked_path"] = str(args.hooked_transformer.resolve())
    from tracker.organisms.api import suite_info

    largest = suite_info(args.organism_suite, args.organism_root).models[-1]
    if largest.complete:
        runs[largest.repo_id] = {"repo": largest.repo_id, "cache": str(largest.cache_dir),
                                 "steps": largest.steps[-args.organism_checkpoints:], **common}
    else:
        print(f"({largest.repo_id} is not trained: run `tracker demo` first to bench it)")
    results: dict[str, Any] = {"threads": torch.get_num_threads(), "series": [], **common}
    for name, spec in runs.items():
        result = bench_series(name, spec, not args.no_transformer_lens)
        print(_table(result), flush=True)
        results["series"].append(result)
    n_series = 100 if args.smoke else args.detect_series
    results["detection"] = bench_detection(n_series, 154)
    results["timeline"] = bench_timeline(154)
    det, tl = results["detection"], results["timeline"]
    print(f"detection: {det['series']:,} series of {det['points']} points ({det['detector']}) "
          f"in {det['seconds']:.2f} s")
    print(f"store of {tl['checkpoints']} checkpoints: detect {tl['detect_seconds']:.2f} s, "
          f"full timeline query {tl['timeline_seconds']:.3f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=float))
    print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
