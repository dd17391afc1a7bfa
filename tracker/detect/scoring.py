"""Change-point scoring as the TCPD benchmark defines it (van den Burg & Williams, 2020).

Both metrics compare one list of predicted change points with the sets of several human
annotators. A change point is the 0-based index of the first point of a new segment.

- F1 with a margin: index 0 is added to every annotator's set and to the predictions (so a
  series with no change scores 1 for a detector that stays silent), predictions outside
  ``1 <= x < n_obs - 1`` are dropped, and each true point is matched to the closest unused
  prediction within the margin. Precision counts matches against the union of all annotators'
  points; recall is the mean over annotators of each one's matched fraction.
- Covering: each annotator's partition is covered by the predicted partition, weighted by
  segment length, with the Jaccard index of index sets; averaged over annotators.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def true_positives(truth: Iterable[int], predictions: Iterable[int], margin: int = 5) -> set[int]:
    """Match true points to predictions, each prediction used at most once.

    True points are visited in increasing order; each takes the closest still-unused
    prediction with ``|t - x| <= margin`` (the smaller index on a tie).

    Args:
        truth: True change points.
        predictions: Predicted change points.
        margin: Largest distance that still counts as a match.

    Returns:
        The set of true points that found a match.
    """
    unused = set(predictions)
    matched: set[int] = set()
    for t in sorted(set(truth)):
        close = sorted((abs(t - x), x) for x in unused if abs(t - x) <= margin)
        if close:
            matched.add(t)
            unused.remove(close[0][1])
    return matched


def f_measure(
    annotations: Mapping[str, Sequence[int]],
    predictions: Sequence[int],
    n_obs: int,
    margin: int = 5,
) -> tuple[float, float, float]:
    """F1, precision and recall of predictions against several annotators.

    Args:
        annotations: Annotator id -> that annotator's change points.
        predictions: Predicted change points (indices into the series).
        n_obs: Length of the series.
        margin: Match margin (5 in the benchmark).

    Returns:
        ``(f1, precision, recall)``.

    Raises:
        ValueError: If there are no annotators.
    """
    if not annotations:
        raise ValueError("f_measure needs at least one annotator")
    sets = [set(int(t) for t in cps) | {0} for cps in annotations.values()]
    preds = {int(x) for x in predictions if 1 <= x < n_obs - 1} | {0}
    union = set().union(*sets)
    precision = len(true_positives(union, preds, margin)) / len(preds)
    recall = sum(len(true_positives(s, preds, margin)) / len(s) for s in sets) / len(sets)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return f1, precision, recall


def partition(cps: Iterable[int], n_obs: int) -> list[range]:
    """Split ``range(n_obs)`` into segments that start at each change point.

    Points at or below 0 and at or beyond ``n_obs`` start no segment; duplicates are ignored.

    Args:
        cps: Change points.
        n_obs: Length of the series.

    Returns:
        Consecutive, non-empty ranges covering ``0 .. n_obs - 1``.
    """
    bounds = [0, *sorted({int(c) for c in cps if 0 < c < n_obs}), n_obs]
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _jaccard(a: range, b: range) -> float:
    """Jaccard index of two ranges of consecutive integers."""
    inter = max(0, min(a.stop, b.stop) - max(a.start, b.start))
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0


def cover_single(truth: Sequence[range], predicted: Sequence[range]) -> float:
    """Covering of one true partition by a predicted partition.

    Args:
        truth: The annotator's segments (S).
        predicted: The predicted segments (S').

    Returns:
        ``(1/T) * sum over R in S of |R| * max over R' in S' of Jaccard(R, R')``.
    """
    total = sum(len(r) for r in truth)
    if total == 0:
        return 0.0
    return sum(len(r) * max(_jaccard(r, p) for p in predicted) for r in truth) / total


def covering(
    annotations: Mapping[str, Sequence[int]], predictions: Sequence[int], n_obs: int
) -> float:
    """Covering of each annotator's partition by the predicted one, averaged over annotators.

    Args:
        annotations: Annotator id -> that annotator's change points.
        predictions: Predicted change points.
        n_obs: Length of the series.

    Returns:
        Mean covering in [0, 1].

    Raises:
        ValueError: If there are no annotators.
    """
    if not annotations:
        raise ValueError("covering needs at least one annotator")
    pred = partition(predictions, n_obs)
    scores = [cover_single(partition(cps, n_obs), pred) for cps in annotations.values()]
    return sum(scores) / len(scores)
