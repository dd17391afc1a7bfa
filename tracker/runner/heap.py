"""Keep a long sweep's resident memory at what one checkpoint needs (glibc's heap).

A sweep frees each checkpoint's model and activations before loading the next, but glibc
keeps freed blocks resident and gives every thread that allocates (torch's intra-op pool,
the loader's workers) an arena of its own. The next checkpoint's tensors, allocated in
another order and from other threads, do not all fit the old holes, so the resident set
crept up checkpoint by checkpoint (0.57 -> 0.65 GB over four Pythia-70m-shaped checkpoints).
Two arenas and a trim after each checkpoint hold it flat. Elsewhere (macOS, musl) both are
no-ops.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

#: mallopt's parameter for the most arenas glibc may create.
_M_ARENA_MAX = -8
#: Arenas kept: the main thread's and one shared by every other thread (fewer lock waits
#: than one, and the workers' freed blocks all land in one place).
ARENAS = 2


@functools.cache
def _glibc() -> Any | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


@functools.cache
def limit_arenas() -> None:
    """Cap glibc's malloc arenas at ``ARENAS`` for this process (once; later calls no-ops)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, ARENAS)


def release_freed_memory() -> None:
    """Hand the heap pages freed so far back to the OS (glibc ``malloc_trim``)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
