"""The TCPD metrics on small examples worked out by hand."""

from __future__ import annotations

import pytest

from tracker.detect.scoring import (
    cover_single,
    covering,
    f_measure,
    partition,
    true_positives,
)


def test_true_positives_each_prediction_used_once():
    # 10 takes 12 (closest); 13 would also like 12 but it is used, so it takes 16 (distance 3).
    assert true_positives([10, 13], [12, 16], margin=5) == {10, 13}
    # With only one prediction, only the first true point (in sorted order) matches.
    assert true_positives([10, 13], [12], margin=5) == {10}


def test_true_positives_margin_is_inclusive():
    assert true_positives([10], [15], margin=5) == {10}
    assert true_positives([10], [16], margin=5) == set()


def test_f_measure_silent_detector_on_series_without_changes_scores_one():
    f1, p, r = f_measure({"a": [], "b": []}, [], n_obs=100)
    assert (f1, p, r) == (1.0, 1.0, 1.0)


def test_f_measure_hand_worked():
    # Annotators: a = {0, 50}, b = {0, 50, 80}; predictions {0, 52, 90}.
    # Union {0, 50, 80}: 0-0 and 50-52 match, 80 has nothing within 5 -> P = 2/3.
    # Recall a = 2/2, b = 2/3 -> R = 5/6. F1 = 2PR/(P+R) = (10/9)/(3/2) = 20/27.
    f1, p, r = f_measure({"a": [50], "b": [50, 80]}, [52, 90], n_obs=100)
    assert p == pytest.approx(2 / 3)
    assert r == pytest.approx(5 / 6)
    assert f1 == pytest.approx(20 / 27)


def test_f_measure_drops_predictions_at_the_ends():
    # 0 is always added; 99 = n_obs - 1 is outside 1 <= x < n_obs - 1 and is dropped.
    f1, p, r = f_measure({"a": [50]}, [50, 99], n_obs=100)
    assert (f1, p, r) == (1.0, 1.0, 1.0)


def test_f_measure_false_alarm_on_quiet_series():
    # Union {0}; predictions {0, 40}: P = 1/2, R = 1, F1 = 2/3.
    f1, p, r = f_measure({"a": []}, [40], n_obs=100)
    assert (p, r) == (0.5, 1.0)
    assert f1 == pytest.approx(2 / 3)


def test_partition():
    assert partition([3, 7], 10) == [range(0, 3), range(3, 7), range(7, 10)]
    assert partition([0, 3, 3, 10, 12], 10) == [range(0, 3), range(3, 10)]
    assert partition([], 4) == [range(0, 4)]


def test_cover_single_hand_worked():
    # Truth [0,5) [5,10); prediction [0,4) [4,10).
    # R=[0,5): best J = 4/5 (with [0,4)); R=[5,10): J([5,10),[4,10)) = 5/6.
    # C = (5 * 4/5 + 5 * 5/6) / 10 = (4 + 25/6) / 10 = 49/60.
    assert cover_single(partition([5], 10), partition([4], 10)) == pytest.approx(49 / 60)


def test_covering_averages_over_annotators():
    # a agrees exactly (1.0); b has no change: its one segment [0,10) best matches
    # [4,10) with J = 6/10 -> 0.6. Mean 0.8.
    assert covering({"a": [4], "b": []}, [4], n_obs=10) == pytest.approx(0.8)


def test_covering_no_prediction_against_one_change():
    # Truth [0,5) [5,10) vs one segment [0,10): each J = 1/2 -> C = 0.5.
    assert covering({"a": [5]}, [], n_obs=10) == pytest.approx(0.5)


def test_metrics_need_annotators():
    with pytest.raises(ValueError):
        f_measure({}, [], n_obs=10)
    with pytest.raises(ValueError):
        covering({}, [], n_obs=10)
