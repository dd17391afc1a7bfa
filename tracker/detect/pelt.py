"""PELT (pruned exact linear time) segmentation through ruptures.

PELT finds the segmentation that minimises the total least-squares cost plus a penalty per
change point exactly. The penalty follows a BIC-like rule from a robust noise estimate (see
:class:`~tracker.detect._segment.SegmentationConfig`), so no per-series constant is needed.
"""

from __future__ import annotations

import numpy as np
import ruptures as rpt

from tracker.detect._segment import SegmentationConfig, SegmentationDetector, SegmentCost
from tracker.detect.registry import register_detector


@register_detector
class Pelt(SegmentationDetector):
    """Exact penalised segmentation (PELT) into level or line-in-x segments."""

    name = "pelt"
    version = 1
    description = "ruptures PELT, least-squares segments, BIC-like penalty from robust noise"
    Config = SegmentationConfig

    def _search(self, cost: SegmentCost, signal: np.ndarray, pen: float) -> list[int]:
        algo = rpt.Pelt(custom_cost=cost, min_size=cost.min_size, jump=1)
        return list(algo.fit(signal).predict(pen=pen))
