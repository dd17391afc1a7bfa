"""``tracker llc-calibrate``: choose the LLC probe's SGLD setting on a few checkpoints.

For each chosen step it loads the checkpoint, cuts the text dataset into the probe's windows,
runs the step size x n_beta grid (:mod:`tracker.probes.llc_calibrate`), prints one line per
cell and the recommended setting, and with ``--plot DIR`` draws the loss traces per step.
The setting goes in the probe config (``--probe-config llc.lr=... llc.n_beta=...``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

#: Checkpoints the demo measures the LLC at when it is given no step selection.
DEMO_STEPS = "log:20"


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def register(sub: Any) -> None:
    """Add the ``llc-calibrate`` command."""
    cal = sub.add_parser("llc-calibrate",
                         help="grid over SGLD step size x n_beta for the llc probe")
    cal.add_argument("series", help="checkpoint folder or hub repo id")
    cal.add_argument("--text-dataset", required=True, help="text the LLC is measured on")
    cal.add_argument("--steps", required=True, help="comma-separated checkpoint steps")
    cal.add_argument("--lrs", default="1e-5,1e-4,1e-3", help="step sizes")
    cal.add_argument("--n-betas", default="0", help="inverse temperatures (0: b / ln b)")
    cal.add_argument("--chains", type=int, default=2)
    cal.add_argument("--draws", type=int, default=200)
    cal.add_argument("--burnin", type=int, default=0)
    cal.add_argument("--batch-size", type=int, default=32)
    cal.add_argument("--seq-len", type=int, default=64)
    cal.add_argument("--n-seqs", type=int, default=512)
    cal.add_argument("--localization", type=float, default=100.0)
    cal.add_argument("--cache-dir", default=None)
    cal.add_argument("--device", default="cpu")
    cal.add_argument("--plot", default=None, help="folder for one trace plot per step")
    cal.set_defaults(func=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> int:
    """Run the grid on each step; print the cells and the recommendation."""
    from tracker.errors import TrackerError
    from tracker.probes import ProbeContext
    from tracker.probes.llc import INSTALL_HINT, LLCConfig, LLCProbe, devinterp_available
    from tracker.probes.llc_calibrate import calibrate, plot_traces, recommend
    from tracker.sources import open_series

    if not devinterp_available():
        raise TrackerError(INSTALL_HINT)
    text = Path(args.text_dataset)
    if not text.exists():
        raise TrackerError(f"--text-dataset {text}: no such file or folder")
    base = LLCConfig(num_chains=args.chains, num_draws=args.draws,
                     num_burnin_steps=args.burnin, batch_size=args.batch_size,
                     seq_len=args.seq_len, n_seqs=args.n_seqs,
                     localization=args.localization)
    probe = LLCProbe(base).with_text(text)
    series = open_series(args.series, cache_dir=args.cache_dir)
    wanted = {int(s) for s in args.steps.split(",") if s.strip()}
    chosen = [c for c in series.checkpoints() if c.step in wanted]
    if missing := sorted(wanted - {c.step for c in chosen}):
        raise TrackerError(f"{args.series}: no checkpoint at steps {missing}")
    for checkpoint in chosen:
        loaded = series.load(checkpoint, device=args.device)
        ctx = ProbeContext(loaded.model, loaded.tokenizer)
        windows = probe.windows(ctx)
        if windows is None:
            raise TrackerError(f"{text}: fewer than {base.batch_size} windows of "
                               f"{base.seq_len} tokens")
        cells = calibrate(loaded.model, windows, probe.config, _floats(args.lrs),
                          _floats(args.n_betas), device=args.device)
        for cell in cells:
            est = cell.estimate
            print(f"step {checkpoint.step}  lr {cell.lr:<8g} n_beta {cell.n_beta:<8g} "
                  f"llc {est.llc:9.4g} +- {est.llc_std:<9.3g} settled {int(est.settled)} "
                  f"negative {est.negative_chains} nan {est.nan_draws}")
        best = recommend(cells)
        print(f"step {checkpoint.step}  recommended: "
              + (f"llc.lr={best.lr:g} llc.n_beta={best.n_beta:g}" if best else "none healthy"))
        if args.plot:
            folder = Path(args.plot)
            folder.mkdir(parents=True, exist_ok=True)
            print(f"step {checkpoint.step}  traces: "
                  f"{plot_traces(cells, folder / f'llc_traces_step{checkpoint.step}.png')}")
    return 0


def demo_sweep(model: Any, store: Path, corpus_dir: Path, steps: str | None,
               progress: bool) -> None:
    """Sweep one organism model with the llc probe, when devinterp is installed.

    The probe's default config is the setting calibrated on the organism suite (README,
    "Developmental stages"); at about 7 CPU seconds per checkpoint the demo runs it on its
    smallest model only and, unless the demo was given steps, on ``DEMO_STEPS`` (20
    checkpoints log-spaced in step, the axis stages are found on), so ``tracker demo`` stays
    within its time. Its result joins that model's store, before ``tracker detect`` finds the
    stages.

    Args:
        model: The organism model (``tracker.organisms.api.ModelInfo``).
        store: That model's store.
        corpus_dir: The suite's corpus folder (its ``dataset`` is the LLC's data).
        steps: The demo's step selection (None: ``DEMO_STEPS``).
        progress: Show a progress bar.
    """
    from tracker.probes.llc import INSTALL_HINT, LLCProbe, devinterp_available
    from tracker.runner import sweep

    text = corpus_dir / "dataset"
    if not devinterp_available() or not text.exists():
        print(f"      llc skipped ({INSTALL_HINT if text.exists() else 'no corpus dataset'})")
        return
    report = sweep(model.open(), store, [LLCProbe().with_text(text)],
                   steps=steps or DEMO_STEPS, progress=progress)
    print(f"      {model.repo_id}: llc at {len(report.computed)} checkpoints -> {store}")
