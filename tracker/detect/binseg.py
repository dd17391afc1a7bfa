"""Binary segmentation through ruptures.

Greedy top-down search: split where the cost drops most, recurse, and stop when no split
gains more than the penalty. Faster and less exact than PELT; it shares PELT's cost and its
BIC-like penalty rule.
"""

from __future__ import annotations

import numpy as np
import ruptures as rpt

from tracker.detect._segment import SegmentationConfig, SegmentationDetector, SegmentCost
from tracker.detect.registry import register_detector


@register_detector
class Binseg(SegmentationDetector):
    """Greedy binary segmentation into level or line-in-x segments."""

    name = "binseg"
    version = 1
    description = "ruptures binary segmentation, least-squares segments, BIC-like penalty"
    Config = SegmentationConfig

    def _search(self, cost: SegmentCost, signal: np.ndarray, pen: float) -> list[int]:
        algo = rpt.Binseg(custom_cost=cost, min_size=cost.min_size, jump=1)
        return list(algo.fit(signal).predict(pen=pen))
