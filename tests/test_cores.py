"""Cores this process may use, and their share per worker."""

from __future__ import annotations

import os

import pytest

from tracker import cores


def test_usable_cores_follow_the_affinity_mask() -> None:
    assert cores.usable_cores() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("available, workers, expected", [
    (2, 2, 1), (2, 1, 2), (16, 4, 4), (16, 3, 5), (2, 4, 1), (4, 0, 4)])
def test_each_worker_gets_its_share_of_the_cores(monkeypatch: pytest.MonkeyPatch,
                                                 available: int, workers: int,
                                                 expected: int) -> None:
    monkeypatch.setattr(cores, "usable_cores", lambda: available)
    assert cores.threads_per_worker(workers) == expected
