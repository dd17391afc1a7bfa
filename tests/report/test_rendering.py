"""Tests for tracker.report.rendering: figures and whole fragments in worker processes."""

from __future__ import annotations

import base64
import os

import pytest

pytest.importorskip("matplotlib")

from tracker.report.rendering import embed_png, figure_pool  # noqa: E402
from tracker.views.mpl import new_figure, style  # noqa: E402


def _fragment(label: str) -> str:
    """A fragment built in a worker: its figure renders there, its pid says where it ran."""
    with style():
        fig = new_figure(2.0, 1.5)
        fig.subplots().plot([0, 1], [1, 0])
    return f"{label}:{os.getpid()}:{embed_png(fig)}"


def test_a_fragment_queued_to_the_pool_is_built_and_rendered_in_a_worker() -> None:
    with figure_pool(2) as pool:
        assert pool is not None
        token = pool.call(_fragment, "a")
        assert token.startswith("@@tracker-figure-")
        page = pool.fill(f"<p>{token}</p>")
    label, pid, png = page.removeprefix("<p>").removesuffix("</p>").split(":")
    assert label == "a" and int(pid) != os.getpid()
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"  # rendered there, not a token


def test_inline_without_a_pool() -> None:
    with figure_pool(1) as pool:
        assert pool is None
        label, pid, png = _fragment("b").split(":")
    assert int(pid) == os.getpid() and base64.b64decode(png)[:4] == b"\x89PNG"
