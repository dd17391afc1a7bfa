"""Clusters followed across layers: a merge, a birth and a death with known labels."""

from __future__ import annotations

import numpy as np

from tracker.probes.clusters.tracking import match_layers, track_clusters


def test_merge_birth_and_death_between_two_layers() -> None:
    prev = np.array([0, 0, 0, 1, 1, 1, 2, 2, -1, -1])
    nxt = np.array([5, 5, 5, 5, 5, 5, -1, -1, 7, 7])
    step = match_layers(prev, nxt)
    assert len(step.matches) == 1 and step.matches[0][1] == 5
    assert len(step.merges) == 1 and step.deaths == (2,) and step.births == (7,)


def test_lifespans_follow_chains_of_matches() -> None:
    a = np.array([0, 0, 0, 1, 1, 1])
    b = np.array([3, 3, 3, 3, 3, 3])  # 0 and 1 merge
    tracks = track_clusters([a, a, b, b])
    np.testing.assert_array_equal(tracks.merges, [0, 1, 0])
    np.testing.assert_array_equal(tracks.births, [0, 0, 0])
    # One of the pair lived boundaries 0-1 and merged; the other carried on to the end (4).
    assert sorted(tracks.lifespans.tolist()) == [2.0, 4.0]


def test_relabelling_changes_nothing() -> None:
    a = np.array([0, 0, 1, 1, 2, 2, -1])
    b = np.array([1, 1, 1, 1, 0, 0, 0])
    plain = track_clusters([a, b])
    renamed = track_clusters([np.where(a >= 0, 9 - a, -1), np.where(b >= 0, 4 + b, -1)])
    for field in ("births", "deaths", "merges", "lifespans"):
        np.testing.assert_array_equal(np.sort(getattr(plain, field)),
                                      np.sort(getattr(renamed, field)))
