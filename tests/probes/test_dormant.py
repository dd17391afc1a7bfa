"""The active-dormant probe on a planted model with a head dormant on one domain only."""

from __future__ import annotations

import numpy as np
import pytest

import tracker.probes.dormant as dormant_module
from tests.support.planted_models import Planted, dormant_model, repeated_docs
from tracker.probes import ProbeContext, make_probes
from tracker.probes.dormant import DOMAINS, DormantConfig, active_dormant, dormant_labels
from tracker.probes.uncertainty import resample_indices


@pytest.fixture(scope="module")
def measured() -> tuple[Planted, dict[str, np.ndarray]]:
    planted = dormant_model()
    ctx = ProbeContext(planted.model, planted.tokenizer)
    # Filler words only: no number, so the triggered head stays parked on BOS.
    ctx.scratch["text_dataset"] = repeated_docs(8, period=10, copies=25)
    (probe,) = make_probes(["dormant"], dormant={"n_bootstrap": 50, "n_seqs": 8})
    probe.declare(ctx)
    values = {k: np.asarray(v) for k, v in probe.run(ctx).items()}
    assert ctx.forward_count == 3  # one pass per domain
    return planted, values


def test_triggered_head_is_dormant_on_text_only(measured) -> None:  # type: ignore[no-untyped-def]
    planted, values = measured
    layer, head = planted.heads["dormant"]
    assert values["first_mass_text"][layer, head] > 0.99
    assert values["out_ratio_text"][layer, head] < 0.1
    for domain in ("random", "repeated"):
        assert values[f"first_mass_{domain}"][layer, head] < 0.05
        assert values[f"out_ratio_{domain}"][layer, head] > 0.5
        assert values[f"dormant_{domain}"][layer, head] == 0.0
    assert values["dormant_text"][layer, head] == 1.0
    # Its BOS value is zero; numbers, where it is active, have values.
    assert values["value_ratio_text"][layer, head] == pytest.approx(1.0, abs=0.05)
    assert values["value_ratio_random"][layer, head] < 0.1
    assert values["active_dormant"][layer, head] == 1.0


def test_other_heads_are_labelled_as_built(measured) -> None:  # type: ignore[no-untyped-def]
    planted, values = measured
    prev, sink = planted.heads["prev"], planted.heads["sink"]
    for domain in DOMAINS:
        assert values[f"dormant_{domain}"][prev] == 0.0  # attends to the previous token
        assert values[f"out_ratio_{domain}"][prev] == pytest.approx(1.0, abs=0.15)
        assert values[f"dormant_{domain}"][sink] == 1.0  # parked on BOS everywhere
        assert values[f"value_ratio_{domain}"][sink] < 0.05
        assert np.isnan(values[f"dormant_{domain}"][0, 3])  # writes nothing: no label
    expected = np.zeros_like(values["active_dormant"])
    expected[planted.heads["dormant"]] = 1.0
    np.testing.assert_array_equal(values["active_dormant"], expected)


def test_errors_are_bootstrapped_per_value(measured) -> None:  # type: ignore[no-untyped-def]
    planted, values = measured
    layer, head = planted.heads["dormant"]
    # Random sequences differ in how many numbers they hold, so the output varies.
    assert values["out_ratio_random_se"][layer, head] > 0
    assert values["first_mass_random_se"][layer, head] > 0
    # Labels far from both thresholds never flip under resampling.
    assert values["dormant_text_se"][layer, head] == 0.0
    assert values["active_dormant_se"][layer, head] == 0.0


@pytest.mark.parametrize("chunk", [1 << 22, 7 * 12 * 6])  # all draws at once; 7 per chunk
def test_label_bootstraps_equal_one_draw_at_a_time(chunk: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The draws are labelled a chunk at a time in one array operation; each draw's label must
    # be the label of that draw alone, as a loop over the draws gives it.
    monkeypatch.setattr(dormant_module, "_CHUNK_ELEMENTS", chunk)
    rng = np.random.default_rng(3)
    cfg = DormantConfig(n_bootstrap=40, mass_threshold=0.5, output_threshold=0.3)
    shape = (3, 4)
    domains = []
    for n in (12, 9, 12):
        mass, ratio = rng.uniform(0, 1, (n, *shape)), rng.uniform(0, 0.6, (n, *shape))
        mass[rng.uniform(size=mass.shape) < 0.1] = np.nan  # items without a value
        mass[:, 2, 3] = np.nan  # a head with none: NaN label and error
        domains.append((mass, ratio))

    def labeller(mass: np.ndarray, ratio: np.ndarray):  # type: ignore[no-untyped-def]
        def label(idx: np.ndarray) -> np.ndarray:
            axis = idx.ndim - 1
            return dormant_labels(dormant_module._nanmean0(mass[idx], axis),
                                  dormant_module._nanmean0(ratio[idx], axis), cfg)
        return label

    labellers = [labeller(m, r) for m, r in domains]
    sizes = [len(m) for m, _ in domains]
    for label, n in zip(labellers, sizes, strict=True):
        labels = label(np.arange(n))
        loop = np.stack([label(row) for row in resample_indices(n, cfg)])
        with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
            expected = np.where(np.isnan(labels), np.nan, np.nanstd(loop, axis=0, ddof=1))
        got = dormant_module._label_se(label, n, labels, cfg)
        np.testing.assert_array_equal(got, expected)
        assert np.isnan(got[2, 3]) and np.nanmax(got) > 0
    rows = [resample_indices(n, cfg) for n in sizes]
    joint = np.stack([active_dormant([lab(idx[r]) for lab, idx in zip(labellers, rows,
                                                                        strict=True)])
                      for r in range(cfg.n_bootstrap)])
    got = dormant_module._joint_se(labellers, sizes, cfg, shape)
    np.testing.assert_array_equal(got, joint.std(axis=0, ddof=1))
    assert got.max() > 0


def test_labelling_rule_needs_both_conditions() -> None:
    cfg = DormantConfig()
    mass = np.array([0.9, 0.9, 0.5, np.nan, 0.8])
    out = np.array([0.1, 0.9, 0.1, 0.1, 0.3])
    np.testing.assert_array_equal(dormant_labels(mass, out, cfg), [1.0, 0.0, 0.0, np.nan, 1.0])
    labels = [np.array([1.0, 1.0, np.nan]), np.array([0.0, 1.0, 0.0]),
              np.array([np.nan, 1.0, 0.0])]
    np.testing.assert_array_equal(active_dormant(labels), [1.0, 0.0, 0.0])


def test_text_domain_without_long_documents_is_nan() -> None:
    planted = dormant_model()
    ctx = ProbeContext(planted.model, planted.tokenizer)
    ctx.scratch["text_dataset"] = ["w1 w2 w3"]
    (probe,) = make_probes(["dormant"], dormant={"n_bootstrap": 10, "n_seqs": 4,
                                                 "seq_len": 10})
    values = probe.run(ctx)
    assert np.isnan(values["first_mass_text"]).all() and np.isnan(values["dormant_text"]).all()
    assert np.asarray(values["dormant_random"])[planted.heads["sink"]] == 1.0


def test_repeated_domain_agrees_with_the_sink_probe(circuits: Planted) -> None:
    """On the induction probe's input the first-token mass and value ratio are the sink
    probe's own numbers (one pass serves both)."""
    ctx = ProbeContext(circuits.model, circuits.tokenizer)
    ctx.scratch["text_dataset"] = repeated_docs(4, period=10, copies=25)
    dormant, sinks = make_probes(["dormant", "attention_sinks"],
                                 dormant={"n_bootstrap": 10, "n_seqs": 6},
                                 attention_sinks={"n_bootstrap": 10, "n_seqs": 6})
    for probe in (dormant, sinks):
        probe.declare(ctx)
    ours, theirs = dormant.run(ctx), sinks.run(ctx)
    assert ctx.forward_count == 3
    np.testing.assert_allclose(ours["first_mass_repeated"], theirs["sink_score"], atol=1e-12)
    np.testing.assert_allclose(ours["value_ratio_repeated"], theirs["sink_value_norm_ratio"],
                               atol=1e-12, equal_nan=True)
    assert np.isnan(np.asarray(ours["dormant_repeated"])[circuits.heads["sink"]])  # no W_O
