"""Write an HDF5 file whole or not at all, without HDF5 ever touching a failing disk.

The file is built in memory (``h5py`` on a ``BytesIO``) and only its finished bytes go to
disk: to a temporary file, fsynced, then renamed over the target. A kill leaves the old file
or the new one. A full disk fails the plain ``write`` with an ``OSError`` naming ENOSPC: when
HDF5 itself meets a write error it leaves its library state inconsistent for the rest of the
process ("Slist already enabled?"), so it never does here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import h5py


def write_hdf5_atomically(path: str | os.PathLike[str], fill: Callable[[h5py.File], None],
                          start_from: str | os.PathLike[str] | None = None,
                          tag: str = "tmp") -> Path:
    """Build an HDF5 file with ``fill`` and put it at ``path`` atomically.

    Args:
        path: Target file.
        fill: Writes the content into the open (in-memory) file.
        start_from: An existing file whose content ``fill`` edits (opened read-write).
        tag: Suffix of the temporary file's name (``.NAME.PID.TAG``).

    Returns:
        ``path``.

    Raises:
        OSError: If the bytes cannot be written (the temporary file is removed).
    """
    target = Path(path)
    buffer = io.BytesIO(Path(start_from).read_bytes() if start_from is not None else b"")
    with h5py.File(buffer, "r+" if start_from is not None else "w") as handle:
        fill(handle)
    data = buffer.getbuffer()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{tag}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
