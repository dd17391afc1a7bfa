"""Chunks of a leading dimension bounded by a temporary's elements."""

from __future__ import annotations

from tracker.probes.chunks import chunk_slices


def test_chunks_cover_the_range_once_within_the_bound() -> None:
    chunks = chunk_slices(10, per_item=3, max_elements=10)  # 3 items (9 elements) per chunk
    assert chunks == [slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 10)]
    assert [i for c in chunks for i in range(10)[c]] == list(range(10))


def test_an_item_over_the_bound_gets_a_chunk_of_its_own() -> None:
    assert chunk_slices(3, per_item=100, max_elements=10) == [slice(0, 1), slice(1, 2),
                                                             slice(2, 3)]
    assert chunk_slices(4, per_item=0, max_elements=10) == [slice(0, 4)]
    assert chunk_slices(0, per_item=5, max_elements=10) == []
