"""How heads, token counts and series are written for people: one format each, everywhere.

The report, W&B, the CLI, queries and events all print and parse these through this module, so
a label copied from one (``L1H3``, ``2.1M``) is accepted by every other.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tracker.errors import TrackerError

# Accepts the canonical ``L1H3`` and, leniently, ``L1.H3`` / ``l1-h3`` copied from elsewhere.
_HEAD = re.compile(r"^L(\d+)[.\-_ ]?H(\d+)$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class HeadId:
    """One attention head: its layer and its index within the layer (both 0-based).

    Attributes:
        layer: Layer index.
        head: Head index within the layer.
    """

    layer: int
    head: int

    @property
    def label(self) -> str:
        """The canonical label, ``L{layer}H{head}``."""
        return f"L{self.layer}H{self.head}"

    def __str__(self) -> str:
        return self.label

    @classmethod
    def parse(cls, text: str) -> HeadId:
        """Read a head label such as ``L1H3`` (``L1.H3`` is accepted too).

        Raises:
            TrackerError: If ``text`` is not a head label.
        """
        match = _HEAD.match(text.strip())
        if not match:
            raise TrackerError(f"head {text!r}: expected a label like L1H3")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def from_flat(cls, unit: int, n_heads: int) -> HeadId:
        """Return the head at position ``unit`` of a layer-major (layers, heads) flattening."""
        return cls(unit // n_heads, unit % n_heads)


def head_label(layer: int, head: int) -> str:
    """``L{layer}H{head}`` for a head, '' for a model-level value (``layer < 0``)."""
    return HeadId(int(layer), int(head)).label if layer >= 0 else ""


def format_tokens(n: float) -> str:
    """Short human form of a token count: 0, 512, 2.1M, 300B, 1.2T (thousands are ``K``)."""
    if not math.isfinite(n):
        return "–"
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            value = n / size
            text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
            return text.removesuffix(".0") + suffix
    return f"{n:.0f}"


def short_series(series_id: str) -> str:
    """Series id without the organisation (``EleutherAI/pythia-70m`` -> ``pythia-70m``)."""
    return series_id.rsplit("/", 1)[-1]


def slug(text: str) -> str:
    """File-name-safe form of a series id or metric name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "series"


_SIZE = re.compile(r"(?<![A-Za-z0-9])(\d+(?:\.\d+)?)([kKmMbBtT])(?![A-Za-z])")


def model_size(series_id: str) -> float | None:
    """Parameter count read from a series name (``pythia-1.4b`` -> 1.4e9), or None."""
    match = _SIZE.search(short_series(series_id))
    if not match:
        return None
    scale = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[match.group(2).lower()]
    return float(match.group(1)) * scale


def order_series(series_ids: Iterable[str]) -> list[str]:
    """Sort series by model size read from their names (unknown sizes last, by name)."""
    def key(sid: str) -> tuple[int, float, str]:
        size = model_size(sid)
        return (size is None, size or 0.0, sid)

    return sorted(set(series_ids), key=key)


def default_group(series_ids: Iterable[str]) -> str:
    """Name a W&B group for a sweep over sizes: the family name with sizes removed."""
    families = []
    for sid in order_series(series_ids):
        family = _SIZE.sub("", short_series(sid))
        family = re.sub(r"-{2,}", "-", family).strip("-_.") or short_series(sid)
        if family not in families:
            families.append(family)
    return "+".join(families) or "tracker"
