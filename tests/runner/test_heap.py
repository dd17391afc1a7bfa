"""The sweep's heap hygiene: freed pages go back to the OS (glibc only)."""

from __future__ import annotations

import ctypes
import resource

import pytest

from tracker.runner import heap

pytestmark = pytest.mark.skipif(heap._glibc() is None, reason="glibc's malloc only")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def test_freed_blocks_held_below_a_live_one_are_returned_by_the_trim() -> None:
    """200 MB of 100 kB blocks (heap, not mmap) freed under one live block stay resident."""
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(100_000) for _ in range(2_000)]
    for block in blocks:
        ctypes.memset(block, 1, 100_000)  # touched: resident
    for block in blocks[:-1]:
        libc.free(block)
    before = _rss()
    heap.release_freed_memory()
    released = before - _rss()
    libc.free(blocks[-1])
    assert released > 100e6

