"""Split a leading dimension into chunks that bound a probe's largest temporary."""

from __future__ import annotations


def chunk_slices(total: int, per_item: int, max_elements: int) -> list[slice]:
    """Consecutive slices of ``range(total)``, each at most ``max_elements // per_item`` long.

    Args:
        total: Length of the dimension to split.
        per_item: Elements one item along it adds to the temporary.
        max_elements: Bound on a chunk's elements (at least one item per chunk).
    """
    size = max(1, max_elements // max(1, per_item))
    return [slice(start, min(start + size, total)) for start in range(0, total, size)]
