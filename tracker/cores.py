"""How many CPU cores this process may use, and how to share them between workers."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Return the cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def threads_per_worker(workers: int) -> int:
    """Torch threads for each of ``workers`` CPU processes sharing this machine's cores.

    Each worker taking every core (torch's default) oversubscribes them: with two workers on
    two cores, four compute threads contend and spin-wait on each other.
    """
    return max(1, usable_cores() // max(1, workers))
