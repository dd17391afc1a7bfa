"""Rendering the report's figures to PNG, in worker processes when asked.

A report of one organism model has ~120 figures and Agg rendering (layout, text, PNG encoding)
is most of the report's time, one figure after another on one core. With ``workers > 1`` each
figure is pickled to a process pool as soon as it is built and the page holds a placeholder
until its PNG is back, so building and rendering overlap and the rendering spreads over the
cores. Whole fragments (a series section: its figures built and rendered in one worker) go
to the same pool with :meth:`FigurePool.call` when a page has several to draw. A figure
that cannot be pickled renders inline. Workers are forked where the platform allows (a
spawned worker would re-run a calling script that has no ``__main__`` guard) and only
unpickle, build and render: no torch, no thread pools of the parent's are used in them.
"""

from __future__ import annotations

import base64
import pickle
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from tracker.views.mpl import figure_png

#: Placeholder of a figure (or fragment) still rendering, and the pattern that finds them all.
_TOKEN_FORMAT = "@@tracker-figure-{}@@"
_TOKEN = re.compile(r"@@tracker-figure-\d+@@")

_POOL: ContextVar[FigurePool | None] = ContextVar("tracker_figure_pool", default=None)


def png_base64(fig: Any) -> str:
    """Render a figure to a base64 PNG string."""
    return base64.b64encode(figure_png(fig)).decode("ascii")


def _render_pickled(blob: bytes) -> str:
    return png_base64(pickle.loads(blob))


def _call_inline(fn: Callable[..., str], args: tuple[Any, ...]) -> str:
    # A forked worker inherits the parent's pool in the context: figures built here render
    # here, not through a copy of an executor this process does not own.
    _POOL.set(None)
    return fn(*args)


class FigurePool:
    """Figures rendered by worker processes; the page is filled in at the end."""

    def __init__(self, workers: int) -> None:
        import multiprocessing

        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self._executor = ProcessPoolExecutor(workers, mp_context=context)
        self._pending: dict[str, Future[str]] = {}

    def submit(self, fig: Any) -> str | None:
        """Queue a figure; return its placeholder (None if it cannot be pickled)."""
        try:
            blob = pickle.dumps(fig)
        except Exception:  # noqa: BLE001 - e.g. a lambda formatter: render it inline
            return None
        token = _TOKEN_FORMAT.format(len(self._pending))
        self._pending[token] = self._executor.submit(_render_pickled, blob)
        return token

    def call(self, fn: Callable[..., str], *args: Any) -> str:
        """Queue ``fn(*args)``, an HTML fragment built in a worker; return its placeholder.

        ``fn`` must be a module-level function and ``args`` picklable; figures it embeds
        render in that worker. Used for whole series sections, so that building figures
        (the report's critical path when one process builds them) spreads over the workers.
        """
        token = _TOKEN_FORMAT.format(len(self._pending))
        self._pending[token] = self._executor.submit(_call_inline, fn, args)
        return token

    def fill(self, page: str) -> str:
        """Replace every placeholder in ``page`` (or a part of one) by its rendered PNG."""
        return _TOKEN.sub(lambda match: self._pending[match.group(0)].result(), page)

    def close(self) -> None:
        """Stop the workers."""
        self._executor.shutdown(wait=True, cancel_futures=True)


@contextmanager
def figure_pool(workers: int) -> Iterator[FigurePool | None]:
    """Within the block, :func:`embed_png` queues figures to ``workers`` processes (1: inline)."""
    if workers <= 1:
        yield None
        return
    pool = FigurePool(workers)
    reset = _POOL.set(pool)
    try:
        yield pool
    finally:
        _POOL.reset(reset)
        pool.close()


def embed_png(fig: Any) -> str:
    """Return the figure's base64 PNG, or a placeholder a :class:`FigurePool` fills later."""
    pool = _POOL.get()
    token = pool.submit(fig) if pool is not None else None
    return token if token is not None else png_base64(fig)
