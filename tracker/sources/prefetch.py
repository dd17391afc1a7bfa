"""Read the next checkpoint's weights into the OS page cache while this one is computed.

A sweep over a long series reads every checkpoint from disk once (a Pythia-70m checkpoint is
0.28 GB; read cold, 0.1-0.6 s here), and a model loaded from safetensors is memory-mapped, so
those reads happen as page faults in the middle of the forward pass and the probes, one page
range at a time, with the cores idle. One background thread reading the next checkpoint's
files front to back in large chunks overlaps that disk time with the current checkpoint's
compute; the load then finds the pages cached. ``posix_fadvise(WILLNEED)`` would avoid the
copy, but on this machine's storage it left most of a file uncached (a read after it took as
long as a cold one), so the files are read.

A hub series that is online downloads the next revision the same way, in that thread
(:meth:`tracker.sources.CheckpointSeries.download`), so the network transfer overlaps compute
too.

Prefetching is skipped when a checkpoint's files exceed a share of the memory the OS reports
available: pages read ahead of a model larger than the page cache can hold would evict the
pages the current checkpoint is still reading.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path

log = logging.getLogger(__name__)

#: Bytes per read call: large sequential reads, one buffer reused.
_CHUNK_BYTES = 1 << 24
#: Largest share of the available memory one prefetch may fill.
_MEMORY_SHARE = 0.25


def available_memory() -> int | None:
    """Bytes the OS reports available (``MemAvailable``), or None where it says nothing."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class FilePrefetcher:
    """One background thread that reads files into the page cache, in the order asked.

    A file is read once per prefetcher: asking again for a file already queued (the same
    blob through another snapshot link, too) queues nothing. The thread is a daemon: a
    download ahead cannot be interrupted, and a sweep stopped by the user must not wait for
    it to end before the process exits.

    Args:
        memory_share: Skip a request whose files exceed this share of the available memory.
    """

    def __init__(self, memory_share: float = _MEMORY_SHARE) -> None:
        self.memory_share = memory_share
        self._jobs: queue.SimpleQueue[tuple[Future[int], Callable[[], int]] | None] = (
            queue.SimpleQueue())
        self._thread = threading.Thread(target=self._work, name="tracker-prefetch",
                                        daemon=True)
        self._stop = threading.Event()
        self._queued: set[Path] = set()
        self._lock = threading.Lock()  # the worker claims files after a download, too

    def submit(self, files: Sequence[Path]) -> Future[int] | None:
        """Queue ``files`` to be read; return a future of the bytes read (None if skipped)."""
        todo = self._claim(files)
        return None if todo is None else self._queue(lambda: self._read(todo))

    def submit_download(self, download: Callable[[], Sequence[Path]]) -> Future[int] | None:
        """Queue ``download`` (it makes files local and returns them), then a read of them.

        The future gives the bytes read (0 when the download failed or nothing was left to
        read); a failed download is the load's to report, naming the checkpoint.
        """
        if self._stop.is_set():
            return None
        return self._queue(lambda: self._download_then_read(download))

    def _queue(self, job: Callable[[], int]) -> Future[int]:
        future: Future[int] = Future()
        self._jobs.put((future, job))
        if not self._thread.is_alive() and not self._stop.is_set():
            try:
                self._thread.start()
            except RuntimeError:
                pass  # started already (it has since finished its jobs or is starting)
        return future

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            future, job = item
            if self._stop.is_set():
                future.cancel()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on it
                future.set_exception(exc)

    def _download_then_read(self, download: Callable[[], Sequence[Path]]) -> int:
        try:
            files = download()
        except Exception as exc:  # noqa: BLE001 - the load retries and names the cause
            log.debug("download ahead failed: %s", exc)
            return 0
        todo = self._claim(files)
        return 0 if todo is None else self._read(todo)

    def _claim(self, files: Sequence[Path]) -> list[Path] | None:
        """Return the files not queued before, now marked queued (None: nothing to read)."""
        try:
            sizes = {f.resolve(strict=True): f.stat().st_size for f in files}
        except OSError:
            return None  # a file went missing: the load will say so, naming it
        with self._lock:
            todo = {path: size for path, size in sizes.items() if path not in self._queued}
            if not todo or self._stop.is_set():
                return None
            available = available_memory()
            if available is not None and sum(todo.values()) > self.memory_share * available:
                log.debug("not prefetching %d bytes (%d available)", sum(todo.values()),
                          available)
                return None
            self._queued.update(todo)
        return list(todo)

    def _read(self, files: list[Path]) -> int:
        total = 0
        buffer = memoryview(bytearray(_CHUNK_BYTES))
        for file in files:
            try:
                with open(file, "rb", buffering=0) as fh:
                    while not self._stop.is_set():
                        count = fh.readinto(buffer)
                        if not count:
                            break
                        total += count
            except OSError as exc:  # the load reports a missing file, not the prefetch
                log.debug("prefetch of %s stopped: %s", file, exc)
        return total

    def close(self) -> None:
        """Stop reading (mid-file) and cancel what is queued; returns at once."""
        self._stop.set()
        self._jobs.put(None)

    def __del__(self) -> None:
        if hasattr(self, "_jobs"):  # a prefetcher dropped unclosed ends its thread too
            self.close()

    def __enter__(self) -> FilePrefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
