"""Train (or reuse) the organism suite, run the project's probes over its checkpoints and
print a markdown table of what emerges when.

    python scripts/organism_emergence.py [--suite default] [--root DIR] [--steps ends|all|log:N]

For every model and every selected checkpoint it runs the registered probes among
``induction``, ``successor_heads``, ``icl``, ``ioi`` and ``greater_than`` (a probe that is not
registered yet is skipped with a note) and reports the headline number of each: the best head
for per-head scores, the value itself for model-level scalars. The probes run through the
package's sweep (:func:`tracker.runner.sweep`) into temporary series stores. "Emerges at" is
the onset of the headline's first emergence by the package's one definition
(:func:`tracker.events.emergence.classify_all`: a localized step that beats the smooth null and
crosses the target threshold of the suite's acceptance criteria; for ICL, falls below -0.5
nats), with the tokens seen by then.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracker.detect.axis import Axis
from tracker.events.emergence import classify_all
from tracker.organisms import train_suite

#: The ICL score must fall at least this many times faster per step while induction rises
#: than over the rest of the run: a phase change rather than a slow drift.
PHASE_RATE_RATIO = 3.0

#: A second induction probe with a short repeat: the corpus repeats spans 4-30 words apart, and
#: with full rotary the heads matched those distances 100-250 steps before the probe's 50-token
#: repeat. Reported as a diagnostic of distance generality, never as a target.
SHORT_REPEAT = 20
SHORT_METRIC = f"induction_score_{SHORT_REPEAT}"

# (probe name, metric, reduce over heads, target, direction): the suite's acceptance targets.
METRICS = (
    ("induction", "induction_score", "max", 0.5, "above"),
    ("induction", SHORT_METRIC, "max", 0.5, "above"),
    ("successor_heads", "succession_score", "max", 0.5, "above"),
    ("icl", "icl_score", "value", -0.5, "below"),
    ("ioi", "ioi_logit_diff", "value", 1.0, "above"),
    ("greater_than", "gt_prob_diff", "value", 0.3, "above"),
)
LABELS = {"induction_score": "induction (max head)",
          SHORT_METRIC: f"induction, {SHORT_REPEAT}-token repeat (diagnostic)",
          "succession_score": "succession (max head)",
          "icl_score": "ICL (late - early loss)", "ioi_logit_diff": "IOI logit diff",
          "gt_prob_diff": "greater-than prob diff"}


@dataclass
class Curve:
    metric: str
    steps: list[int]
    values: list[float]

    def first_crossing(self, target: float, direction: str) -> int | None:
        """First checkpoint past ``target`` (a diagnostic; not the emergence definition)."""
        for step, value in zip(self.steps, self.values, strict=True):
            if (value > target) if direction == "above" else (value < target):
                return step
        return None

    def emerges_at(self, target: float, direction: str) -> int | None:
        """Onset step of the first emergence by the package's definition, or None.

        :func:`tracker.events.emergence.classify_all` on log10(step + 1), with ``target`` as
        the threshold and ``direction`` as the mechanism's side (``above``: higher).
        """
        values = np.asarray(self.values, float)
        if np.isfinite(values).sum() < 8:
            return None
        axis = Axis(np.asarray(self.steps, float), "log_step")
        finds = classify_all(values, axis.x, log_t=axis.log_t, threshold=target,
                             higher_is_mechanism=direction == "above")
        onsets = [axis.step_at(f.transition.onset_x) for f in finds
                  if f.kind == "emergence" and f.transition is not None]
        return int(round(min(onsets))) if onsets else None


def available_probes() -> tuple[list[tuple], list[str]]:
    """(probe, output renames or None) pairs to run, and the names not registered.

    The short-repeat induction probe reports only its induction score, renamed.
    """
    from tracker.probes import make_probes, probe_names

    names = set(probe_names())
    wanted = list(dict.fromkeys(m[0] for m in METRICS))
    missing = [n for n in wanted if n not in names]
    # The ICL score reads one position per document, so it uses all 200 held-out documents
    # (the probe's default is 32) to keep its checkpoint-to-checkpoint noise down.
    chosen = [n for n in wanted if n in names]
    probes: list[tuple] = [(p, None) for p in make_probes(chosen, icl={"n_docs": 200})]
    if "induction" in names:
        short = make_probes(["induction"], induction={"seq_len": SHORT_REPEAT})[0]
        probes.append((short, {"induction_score": SHORT_METRIC}))
    return probes, missing


def _headline(store, probe: str, name: str, reduce: str) -> list[float] | None:
    """Max over heads (``reduce == "max"``) or the value per stored step; None if absent."""
    if not any(i.probe == probe and i.name == name for i in store.metric_infos()):
        return None
    values = store.metric(probe, name)
    if reduce == "max":
        flat = values.reshape(len(values), -1)
        return [float(np.nanmax(row)) if np.isfinite(row).any() else float("nan")
                for row in flat]
    return [float(v) for v in values]


def measure(info, steps_spec: str, probes: list,
            root: str | None = None) -> dict[str, dict[str, Curve]]:
    """Sweep each model's checkpoints into series stores and read the headline curves.

    Probes with output renames (the short-repeat induction probe) go into a store of their
    own, since a store keeps one default variant per probe. Stores go under ``root``, or a
    temporary directory removed afterwards.
    """
    from tracker.runner import sweep
    from tracker.store import SeriesStore

    texts = list(info.corpus().dataset["validation"]["text"])
    groups: dict[tuple, list] = {}
    for probe, renames in probes:
        groups.setdefault(tuple(sorted((renames or {}).items())), []).append(probe)
    results: dict[str, dict[str, Curve]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(root or tmp)
        for model_info in info.models:
            series = model_info.open()
            curves: dict[str, Curve] = {}
            for g, (renames, members) in enumerate(groups.items()):
                path = base / f"{model_info.repo_id.replace('/', '__')}-{g}.h5"
                # The ICL probe's "default" dataset: all 200 held-out documents.
                sweep(series, path, members, steps_spec, progress=False,
                      extras={"text_dataset": texts})
                store = SeriesStore(path)
                names = dict(renames) if renames else None
                for probe_name, metric, reduce, _, _ in METRICS:
                    source = metric if names is None else next(
                        (old for old, new in names.items() if new == metric), None)
                    if source is None or metric in curves:
                        continue
                    values = _headline(store, probe_name, source, reduce)
                    if values is not None:
                        curves[metric] = Curve(metric, [int(s) for s in store.steps], values)
            results[model_info.repo_id] = curves
    return results


def table(info, results: dict[str, dict[str, Curve]]) -> str:
    lines = ["| model | layers x d_model | metric | step 0 | final | target "
             "| emerges at (step / tokens) |",
             "|---|---|---|---:|---:|---|---|"]
    for model_info in info.models:
        curves = results[model_info.repo_id]
        for _, metric, _, target, direction in METRICS:
            if metric not in curves:
                continue
            curve = curves[metric]
            at = curve.emerges_at(target, direction)
            when = "-" if at is None else f"{at} / {at * model_info.tokens_per_step / 1e6:.2f}M"
            sign = ">" if direction == "above" else "<"
            lines.append(
                f"| {model_info.repo_id} | {model_info.n_layers} x {model_info.d_model} | "
                f"{LABELS[metric]} | {curve.values[0]:.3f} | {curve.values[-1]:.3f} | "
                f"{sign} {target:g} | {when} |")
    return "\n".join(lines)


def _value_at(curve: Curve, step: int) -> float:
    return curve.values[curve.steps.index(step)]


def induction_window(curve: Curve) -> tuple[int, int] | None:
    """Steps bracketing the rise of the max induction score.

    From the last checkpoint below 20% of the final value (before the first checkpoint at or
    above 80% of it) to that first checkpoint at 80%.
    """
    final = curve.values[-1]
    if final <= 0:
        return None
    end_index = next(i for i, v in enumerate(curve.values) if v >= 0.8 * final)
    starts = [i for i in range(end_index) if curve.values[i] < 0.2 * final]
    if not starts:
        return None
    return curve.steps[starts[-1]], curve.steps[end_index]


def checks(info, results: dict[str, dict[str, Curve]]) -> list[tuple[bool, str]]:
    """The suite's acceptance targets, each with a verdict and the numbers behind it."""
    out: list[tuple[bool, str]] = []
    largest = max(info.models, key=lambda m: (m.n_layers, m.d_model))
    for model in info.models:
        curves = results[model.repo_id]
        ind, icl = curves.get("induction_score"), curves.get("icl_score")
        if ind is None or icl is None:
            continue
        ok = ind.values[0] < 0.1 and ind.values[-1] > 0.5
        out.append((ok, f"{model.repo_id}: max induction {ind.values[0]:.3f} at step 0 "
                        f"(< 0.1), {ind.values[-1]:.3f} at the end (> 0.5)"))
        window = induction_window(ind)
        if window is None:
            out.append((False, f"{model.repo_id}: no induction rise to measure the ICL drop in"))
            continue
        a, b = window
        change = icl_phase_change(icl, window)
        ok = change.inside <= -0.5 and change.rate_ratio >= PHASE_RATE_RATIO
        out.append((ok, f"{model.repo_id}: ICL score {icl.values[0]:.2f} -> {icl.values[-1]:.2f}; "
                        f"{change.inside:+.2f} while induction rises (steps {a}-{b}, "
                        f"{a * model.tokens_per_step / 1e6:.1f}M-"
                        f"{b * model.tokens_per_step / 1e6:.1f}M tokens: {change.share:.0%} of "
                        f"the fall in {(b - a) / (icl.steps[-1] - icl.steps[0]):.0%} of the "
                        f"steps), {change.rate_ratio:.1f}x the rate of the rest of the run "
                        f"(<= -0.5, >= {PHASE_RATE_RATIO:g}x)"))
    curves = results[largest.repo_id]
    for metric, start_max, end_min in (("succession_score", 0.2, 0.5),
                                       ("ioi_logit_diff", None, 1.0),
                                       ("gt_prob_diff", None, 0.3)):
        if metric not in curves:
            continue
        c = curves[metric]
        ok = c.values[-1] > end_min and (start_max is None or c.values[0] < start_max)
        start = "" if start_max is None else f"{c.values[0]:.3f} at step 0 (< {start_max}), "
        out.append((ok, f"{largest.repo_id} (largest): {LABELS[metric]} {start}"
                        f"{c.values[-1]:.3f} at the end (> {end_min})"))
    # Seeds of one size: same mechanisms, timing reported.
    by_size: dict[tuple[int, int], list] = {}
    for model in info.models:
        by_size.setdefault((model.n_layers, model.d_model), []).append(model)
    for group in by_size.values():
        if len(group) >= 2:
            out.append(seed_comparison({m.repo_id: results[m.repo_id] for m in group}))
    return out


def onsets(curves: dict[str, Curve]) -> dict[str, tuple[int, float]]:
    """First step past the target and final value of each target metric that gets there.

    Diagnostics are left out; a metric that never crosses its target is absent.
    """
    found = {}
    for _, metric, _, target, direction in METRICS:
        if metric != SHORT_METRIC and metric in curves:
            step = curves[metric].emerges_at(target, direction)
            if step is not None:
                found[LABELS[metric]] = (step, curves[metric].values[-1])
    return found


def seed_comparison(by_repo: dict[str, dict[str, Curve]]) -> tuple[bool, str]:
    """Do the seeds of one size reach the same mechanisms? Verdict plus each one's onsets.

    A mechanism counts as reached when its headline crosses the target at any checkpoint;
    its onset step (timing may differ between seeds) and its final value (a mechanism can
    weaken after it forms) are reported.
    """
    found = {repo: onsets(curves) for repo, curves in by_repo.items()}
    same = len({tuple(sorted(f)) for f in found.values()}) == 1
    detail = "; ".join(
        f"{repo}: " + (", ".join(f"{label} from step {step} ({end:.2f} at the end)"
                                 for label, (step, end) in f.items()) or "none")
        for repo, f in found.items())
    return same, f"seeds give the same mechanisms: {detail}"


@dataclass
class PhaseChange:
    """How the ICL score moves inside the induction window and outside it.

    Attributes:
        inside: ICL change across the window (negative: a fall).
        share: Share of the run's net fall that happens inside the window.
        rate_ratio: Fall per step inside the window over the fall per step in the rest of
            the run (``inf`` when the rest of the run does not fall).
    """

    inside: float
    share: float
    rate_ratio: float


def icl_phase_change(icl: Curve, window: tuple[int, int]) -> PhaseChange:
    """Compare the ICL fall inside ``window`` with the rest of the run, per step.

    A phase change concentrates the fall in the window; a slow drift falls at the same rate
    everywhere (ratio about 1). The ICL score keeps improving after the window, as induction
    heads sharpen, so a share of the whole fall alone would penalise long runs.
    """
    a, b = window
    total = icl.values[-1] - icl.values[0]
    inside = _value_at(icl, b) - _value_at(icl, a)
    share = inside / total if total < 0 else 0.0
    outside_steps = (icl.steps[-1] - icl.steps[0]) - (b - a)
    inside_rate = -inside / (b - a)
    outside_rate = -(total - inside) / outside_steps if outside_steps > 0 else 0.0
    ratio = inside_rate / outside_rate if outside_rate > 0 else float("inf")
    return PhaseChange(inside, share, ratio if inside_rate > 0 else 0.0)


def diagnostics(info, results: dict[str, dict[str, Curve]]) -> list[str]:
    """Where the ICL fall sits relative to short-repeat induction (not a target)."""
    lines = []
    for model in info.models:
        curves = results[model.repo_id]
        short, icl = curves.get(SHORT_METRIC), curves.get("icl_score")
        window = induction_window(short) if short is not None else None
        if icl is None or window is None:
            continue
        change = icl_phase_change(icl, window)
        lines.append(f"{model.repo_id}: ICL {change.inside:+.2f} ({change.share:.0%} of its "
                     f"fall, {change.rate_ratio:.1f}x the rate elsewhere) while "
                     f"{SHORT_REPEAT}-token-repeat induction rises (steps {window[0]}-"
                     f"{window[1]})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="default")
    parser.add_argument("--root", help="artifact root (default: tracker.organisms.default_root())")
    parser.add_argument("--steps", default="all",
                        help="checkpoints to probe: all, ends (first and last), or a --steps spec")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--stores", help="keep the series stores in this directory "
                                         "(default: a temporary one)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    info = train_suite(args.suite, args.root, threads=args.threads)
    trained = time.perf_counter() - start
    print(f"suite {info.name}: {len(info.models)} models under {info.cache_dir} "
          f"({'trained' if info.results else 'cached'}, {trained:.0f}s)")
    for model_info in info.models:
        print(f"  {model_info.repo_id}: {len(model_info.steps)} checkpoints to step "
              f"{model_info.steps[-1]}, {model_info.tokens_per_step} tokens/step, trained in "
              f"{model_info.train_seconds:.0f}s at {model_info.tokens_per_second:,.0f} tokens/s")
    probes, missing = available_probes()
    for name in missing:
        print(f"note: probe {name!r} is not registered; skipped")
    spec = "first:1" if args.steps == "ends" else args.steps
    if args.steps == "ends":
        spec = "log:2"
    began = time.perf_counter()
    results = measure(info, spec, probes, args.stores)
    print(f"probed in {time.perf_counter() - began:.0f}s\n")
    print(table(info, results))
    verdicts = checks(info, results)
    print("\n| target | met |\n|---|---|")
    for ok, text in verdicts:
        print(f"| {text} | {'yes' if ok else 'NO'} |")
    notes = diagnostics(info, results)
    if notes:
        print("\n| diagnostic (not a target) |\n|---|")
        for line in notes:
            print(f"| {line} |")
    return 0 if all(ok for ok, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
