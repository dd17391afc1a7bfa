"""Keep a long sweep's resident memory at what one checkpoint needs (glibc's heap).

A sweep frees each checkpoint's model and activations before loading the next, but glibc
keeps freed blocks resident, and the next checkpoint's tensors, allocated in another order,
do not all fit the old holes: the resident set crept up checkpoint by checkpoint (0.57 ->
0.65 GB over four Pythia-70m-shaped checkpoints). A trim after each checkpoint returns the
freed pages. Capping glibc's arenas at two (``mallopt(M_ARENA_MAX, 2)``) held it flatter
still, but cost 5-15% of the sweep's time, so it is left to the user
(``MALLOC_ARENA_MAX=2``). Elsewhere (macOS, musl) the trim is a no-op.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any


@functools.cache
def _glibc() -> Any | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def release_freed_memory() -> None:
    """Hand the heap pages freed so far back to the OS (glibc ``malloc_trim``)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
