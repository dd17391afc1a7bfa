"""Runner: walks a series, runs probes, writes shards, consolidates."""

from tracker.runner.sweep import SweepReport, run_probes, sweep

__all__ = ["SweepReport", "run_probes", "sweep"]

from tracker.runner.watch import watch  # noqa: E402

__all__ += ["watch"]
