"""The probe on a tiny model: declared shapes, sane values, determinism, the BOS choice."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.builders import tiny_model, tiny_tokenizer
from tracker.probes import ProbeContext, make_probes

DOCS = [" ".join(f"w{(7 * i + k) % 60}" for i in range(40)) for k in range(5)]


def _run(**config: object) -> tuple[dict[str, np.ndarray], ProbeContext, object]:
    ctx = ProbeContext(tiny_model(), tiny_tokenizer())
    ctx.scratch["text_dataset"] = DOCS
    (probe,) = make_probes(["clusters"], clusters={"prompt_tokens": 24, **config})
    probe.declare(ctx)
    values = {k: np.asarray(v) for k, v in probe.run(ctx).items()}
    return values, ctx, probe


def test_run_matches_declared_metrics_with_values_in_range() -> None:
    values, ctx, probe = _run()
    n_layers = ctx.adapter.n_layers
    specs = probe.metrics(ctx)  # type: ignore[attr-defined]
    assert sorted(values) == sorted(m.name for m in specs)
    for spec in specs:
        assert values[spec.name].shape == spec.value_shape(n_layers, ctx.adapter.n_heads)
    assert ctx.forward_count == 1 and values["cluster_prompts"] == 5
    assert values["mass_near_1"].shape == (n_layers + 1,)
    assert np.all((values["mass_near_1"] >= 0) & (values["mass_near_1"] <= 1))
    assert np.isfinite(values["mass_near_1_se"]).all()
    hist = values["ip_hist"].reshape(n_layers + 1, 50)
    np.testing.assert_allclose(hist.sum(axis=1), 1.0)
    # The control's tokens are identical at the embeddings (rotary positions): onset 0,
    # so the verdict is undefined.
    assert values["control_mass_near_1"][0] == 1.0 and values["collapse_onset_layer"] == 0.0
    assert np.isnan(values["two_timescale_verdict"])
    assert values["ov_spectral_radius_max"] == values["ov_spectral_radius"].max() > 0


def test_runs_are_identical_and_bos_inclusion_is_a_config_choice() -> None:
    first, _, probe = _run()
    again, _, _ = _run()
    for name, value in first.items():
        np.testing.assert_array_equal(value, again[name], err_msg=name)
    with_bos, _, probe_bos = _run(include_bos=True)
    assert probe_bos.key != probe.key  # type: ignore[attr-defined]
    assert not np.allclose(with_bos["ip_mean"], first["ip_mean"])


def test_without_long_enough_documents_every_measurement_is_nan() -> None:
    values, _, _ = _run(prompt_tokens=100)
    assert values["cluster_prompts"] == 0 and np.isnan(values["mass_near_1"]).all()
    assert np.isfinite(values["ov_spectral_radius"]).all()  # weights need no prompts


@pytest.mark.parametrize("bad", [{"betas": [0.0]}, {"plateau_layers": 1}])
def test_config_rejects_impossible_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make_probes(["clusters"], clusters=bad)
