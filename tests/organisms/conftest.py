"""Fixtures of the organism tests: the tiny suite trained once per session."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tracker.organisms import SuiteInfo, train_suite


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("organisms")


@pytest.fixture(scope="session")
def tiny_suite(tiny_root: Path) -> SuiteInfo:
    """The tiny suite trained uninterrupted (one thread, so a resumed run can match it)."""
    start = time.perf_counter()
    info = train_suite("tiny", tiny_root, threads=1, progress=False)
    info.wall_seconds = time.perf_counter() - start
    return info


@pytest.fixture(scope="session")
def tiny_llama_suite(tiny_root: Path) -> SuiteInfo:
    """The tiny suite as Llama models (same corpus, schedule and sizes), in the same root."""
    start = time.perf_counter()
    info = train_suite("tiny-llama", tiny_root, threads=1, progress=False)
    info.wall_seconds = time.perf_counter() - start
    return info
