"""The token-cluster read model: arrays from a store, and its facts in words."""

import dataclasses

import numpy as np
import pytest

from tests.support.report_stores import CLUSTER_STEPS, cluster_store, planted_store
from tracker.store import SeriesStore
from tracker.views.clusters import (
    beta_of,
    cluster_series,
    has_clusters,
    ratio_undefined_reason,
    step_runs,
)


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    return cluster_series(SeriesStore(cluster_store(tmp_path_factory.mktemp("v") / "c.h5")))


def test_series_arrays_have_the_store_shapes(view):
    n = len(CLUSTER_STEPS)
    assert view.mass.shape == (n, 4) and view.hdbscan.shape == (n, 4)
    assert view.violation_rate.shape == (n, 3) and view.n_boundaries == 4
    assert list(view.energy) == [0.1, 1.0, 5.0]
    assert view.violations_se.tolist() == pytest.approx([0.1] * n)
    assert view.measured.all()


def test_heatmap_energy_is_beta_1_or_the_nearest(view):
    beta, energy = view.heatmap_energy()
    assert beta == 1.0 and energy[0].tolist() == pytest.approx([0.5, 0.55, 0.6, 0.65])
    without = dataclasses.replace(view, energy={0.1: view.energy[0.1], 5.0: view.energy[5.0]})
    assert without.heatmap_energy()[0] == 5.0  # nearest in log: |log 5| < |log 0.1|


def test_fall_share_divides_by_betas_times_layers(view):
    assert view.fall_share()[-1] == pytest.approx(2.25 / 9)
    assert view.fall_share()[0] == 0.0


def test_beta_names_parse():
    assert [beta_of(s) for s in ("0p1", "1", "2", "5", "0p25")] == [0.1, 1.0, 2.0, 5.0, 0.25]


def test_has_clusters_needs_the_probe(tmp_path):
    assert has_clusters(SeriesStore(cluster_store(tmp_path / "c.h5")))
    assert not has_clusters(SeriesStore(planted_store(tmp_path / "p.h5", steps=[0, 1])))


def test_ratio_reasons(view):
    assert "collapsed already at the embeddings" in ratio_undefined_reason(view)
    never = dataclasses.replace(view, onset=np.full(len(view.steps), np.nan))
    assert ratio_undefined_reason(never).startswith("the repeated-token control never")
    mixed = dataclasses.replace(view, onset=np.where(np.arange(len(view.steps)) < 3, 0.0,
                                                     np.nan))
    assert ratio_undefined_reason(mixed) == (
        "the repeated-token control is collapsed already at the embeddings at 3 and never "
        "collapses at 5 of 8 checkpoints")
    defined = dataclasses.replace(view, ratio=np.where(np.arange(8) == 4, 1.5, np.nan))
    assert ratio_undefined_reason(defined) is None


def test_step_runs():
    steps = [0, 10, 20, 40, 80, 160]
    assert step_runs(steps, [1, 1, 1, 0, 1, 0]) == "0–20, 80"
    assert step_runs(steps, [0] * 6) == "none"
    assert step_runs(steps, [1, 0, 1, 0, 1, 0], limit=2) == "0, 20 and 1 more runs"
    assert step_runs([1000, 2000], [1, 1]) == "1,000–2,000"
