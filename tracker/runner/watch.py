"""Follow a training run that is still writing checkpoints."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from tracker.errors import SourceError
from tracker.probes import Probe
from tracker.runner.sweep import SweepReport, sweep
from tracker.sources import CheckpointSeries

log = logging.getLogger(__name__)

#: Default wait between polls, in seconds (``tracker sweep --watch --poll`` defaults to it too).
POLL_SECONDS = 60.0
#: Default time without a new checkpoint after which the watch stops, in seconds.
IDLE_TIMEOUT = 1800.0


def watch(
    series: CheckpointSeries,
    store_path: str | os.PathLike[str],
    probes: Sequence[Probe],
    poll_seconds: float = POLL_SECONDS,
    idle_timeout: float = IDLE_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    **sweep_kwargs: Any,
) -> SweepReport:
    """Sweep repeatedly as new checkpoints appear; stop after ``idle_timeout`` without any.

    A checkpoint that fails to load while the run is live (its weights half-written) is
    retried at the next poll instead of ending the watch; it is an error only once the run
    has gone idle.

    Args:
        series: A series whose ``checkpoints()`` is re-listed on every poll.
        store_path: Series store.
        probes: Probes to run.
        poll_seconds: Wait between polls.
        idle_timeout: Stop after this long with no new checkpoint stored.
        sleep: Sleep function (tests pass a fake).
        clock: Monotonic clock (tests pass a fake).
        **sweep_kwargs: Passed to :func:`sweep`.

    Returns:
        The combined report of all polls.
    """
    total = SweepReport()
    last_progress = clock()
    while True:
        try:
            report = sweep(series, store_path, probes, **sweep_kwargs)
        except SourceError as exc:
            if clock() - last_progress > idle_timeout:
                raise
            log.info("not ready yet (%s); retrying in %.0fs", exc, poll_seconds)
            report = SweepReport()
        total.computed.extend(report.computed)
        total.loads += report.loads
        total.repeated_weights.extend(report.repeated_weights)
        total.store_path = report.store_path or total.store_path
        if report.computed:
            last_progress = clock()
        elif clock() - last_progress > idle_timeout:
            total.skipped_steps = report.skipped_steps
            return total
        sleep(poll_seconds)
