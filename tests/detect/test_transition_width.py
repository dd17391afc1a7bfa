"""The refined width of a transition recovers a planted logistic's width, which the test's own
six-width grid only brackets."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.detect import transition

X = np.log10(np.unique(np.round(np.geomspace(1, 1e5, 90))) + 1)


@pytest.mark.parametrize("width", [0.3, 0.55])
def test_refined_width_matches_the_planted_width(width: float) -> None:
    rng = np.random.default_rng(3)
    mid = 2.6
    scale = width / (2 * transition.LN9)
    y = 0.1 + 0.5 / (1 + np.exp(-(X - mid) / scale)) + rng.normal(0, 0.005, len(X))
    tr = transition.test_transition(y, X)
    assert tr is not None and tr.p_value < 0.01
    onset, end = transition.refine_width(y, X, tr)
    assert end - onset == pytest.approx(width, rel=0.1)
    assert (onset + end) / 2 == pytest.approx(mid, abs=0.03)
