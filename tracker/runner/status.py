"""``tracker status CONFIG``: per series, what is done, pending and failed, and what comes next.

Read-only: it plans each series as a sweep would (without taking its lock or touching a
shard) and reads the journal the sweeps keep beside each store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tracker.runner.scheduled import plan_series
from tracker.runner.spec import SeriesSpec, SweepConfig
from tracker.store import Journal, RunRecord
from tracker.store.lock import read_owner


@dataclass
class SeriesStatus:
    """The state of one series of a sweep config.

    Attributes:
        spec: The series.
        done: Steps whose shard holds every probe.
        pending: Steps a run would compute now.
        failed: Step -> error of its last failed attempt (from the journal).
        incomplete: Step -> why it waits (still being written).
        missing: Listed steps the series does not have yet.
        last_run: The last recorded run (None: never run).
        steps_per_hour: Throughput over the recorded runs that computed something.
        running: Who holds the lock, if a sweep is running ('' if none).
        error: Why the series cannot be planned ('' if it can).
    """

    spec: SeriesSpec
    done: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    incomplete: dict[int, str] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)
    last_run: RunRecord | None = None
    steps_per_hour: float | None = None
    running: str = ""
    error: str = ""
    corrupt: list[str] = field(default_factory=list)

    def next_run(self) -> str:
        """Say what the next ``tracker sweep CONFIG`` will do for this series, in words."""
        if self.error:
            return f"fail: {self.error}"
        parts = []
        if self.running:
            parts.append(f"wait: a sweep is running ({self.running})")
        retry = sorted(set(self.pending) & set(self.failed))
        fresh = [s for s in self.pending if s not in self.failed]
        if fresh:
            parts.append(f"compute {len(fresh)} new checkpoint(s) ({_steps(fresh)})")
        if retry:
            parts.append(f"retry {len(retry)} failed ({_steps(retry)})")
        if self.incomplete:
            parts.append(f"skip {len(self.incomplete)} still being written "
                         f"({_steps(list(self.incomplete))})")
        if self.pending:
            parts.append("then consolidate, detect and log the new steps")
            if self.steps_per_hour:
                parts.append(f"about {len(self.pending) / self.steps_per_hour * 60:.0f} min")
        if not parts:
            return "nothing to do"
        return "; ".join(parts)


def _steps(steps: list[int], show: int = 6) -> str:
    steps = sorted(steps)
    head = ", ".join(str(s) for s in steps[:show])
    return head + (f", ... {steps[-1]}" if len(steps) > show else "")


def series_status(spec: SeriesSpec, config: SweepConfig, probes: list[Any]) -> SeriesStatus:
    """Work out one series' status (reads only)."""
    plan = plan_series(spec, config, probes, repair=False)
    journal = Journal.load(spec.store)
    status = SeriesStatus(spec, done=plan.done, pending=[c.step for c, _ in plan.tasks],
                          incomplete=plan.incomplete, missing=plan.missing, error=plan.error,
                          corrupt=plan.corrupt)
    status.failed = {s: e for s, e in journal.failed_steps().items() if s not in plan.done}
    status.failed.update(plan.broken)
    status.last_run = journal.runs[-1] if journal.runs else None
    busy = [r for r in journal.runs if r.computed_steps and r.seconds > 0]
    if busy:
        status.steps_per_hour = (sum(r.computed_steps for r in busy)
                                 / sum(r.seconds for r in busy) * 3600)
    owner = read_owner(spec.store)
    if owner is not None and owner.stale(config.stale_after) is None:
        status.running = owner.describe()
    return status


def config_status(config: SweepConfig) -> list[SeriesStatus]:
    """Status of every series of a config, in config order."""
    probes = config.probe_set().build()
    return [series_status(spec, config, probes) for spec in config.series]


def format_status(status: SeriesStatus) -> list[str]:
    """Lines ``tracker status`` prints for one series."""
    lines = [f"{status.spec.name}  ({status.spec.store})"]
    last = "never"
    if status.last_run is not None:
        run = status.last_run
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started))
        last = (f"{when}, {run.outcome}, {run.computed_steps} computed, "
                f"{run.failed_steps} failed in {run.seconds:.1f}s ({run.executor})")
    rate = (f"{status.steps_per_hour:.1f} checkpoints/hour" if status.steps_per_hour
            else "not measured yet")
    lines += [f"  done       {len(status.done)}",
              f"  pending    {len(status.pending)}"
              + (f" ({_steps(status.pending)})" if status.pending else ""),
              f"  failed     {len(status.failed)}"]
    lines += [f"    step {step}: {error.splitlines()[0]}" for step, error in status.failed.items()]
    if status.incomplete:
        lines.append(f"  waiting    {len(status.incomplete)} still being written")
        lines += [f"    step {s}: {why}" for s, why in sorted(status.incomplete.items())]
    if status.missing:
        lines.append(f"  not yet    {len(status.missing)} listed steps ({_steps(status.missing)})")
    lines += [f"  corrupt    {c}" for c in status.corrupt]
    lines += [f"  last run   {last}", f"  throughput {rate}", f"  next run   {status.next_run()}"]
    return lines
