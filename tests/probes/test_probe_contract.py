"""What every registered probe promises, checked for each name in the registry."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.contracts import (
    KEY_RE,
    NAME_RE,
    check_frozen_json_config,
    concrete_subclasses_in_package,
)
from tracker.probes import (
    Probe,
    ProbeConfig,
    ProbeContext,
    make_probes,
    probe_class,
    probe_names,
)

KINDS = {"head", "layer", "scalar", "vector"}


def test_every_probe_class_in_the_package_is_registered() -> None:
    classes = concrete_subclasses_in_package("tracker.probes", Probe)
    assert classes
    for cls in classes:
        assert probe_class(cls.name) is cls, cls
    assert sorted(cls.name for cls in classes) == probe_names()


@pytest.mark.parametrize("name", probe_names())
def test_probe_names_itself_and_describes_itself(name: str) -> None:
    cls = probe_class(name)
    assert cls.name == name and NAME_RE.fullmatch(name)
    assert type(cls.version) is int and cls.version >= 1
    assert isinstance(cls.description, str) and cls.description.strip()
    assert "\n" not in cls.description


@pytest.mark.parametrize("name", probe_names())
def test_probe_config_is_frozen_json_with_a_stable_key(name: str) -> None:
    cls = probe_class(name)
    config = cls.Config()
    doc = check_frozen_json_config(config, ProbeConfig)
    probe, again = cls(), cls()
    assert probe.config == config
    assert KEY_RE.fullmatch(probe.key)
    assert probe.key == again.key == f"v{cls.version}-{config.config_hash()}"
    # The key hashes the canonical JSON, which holds every field (checked above).
    assert probe.config_hash == cls.Config(**doc).config_hash()


@pytest.mark.parametrize("name", probe_names())
def test_probe_metrics_and_run_agree_on_a_tiny_model(name: str, tiny_arch) -> None:  # type: ignore[no-untyped-def]
    """Each metric is declared once with a known kind, and ``run`` returns exactly the declared
    metrics, each of its kind's shape (the random tiny model lacks every task word), on a
    tiny model of every supported architecture."""
    model, tok = tiny_arch
    ctx = ProbeContext(model, tok, batch_size=256)
    ctx.scratch["text_dataset"] = [" ".join(f"w{i % 60}" for i in range(k, k + 40))
                                   for k in range(4)]
    (probe,) = make_probes([name])
    probe.declare(ctx)
    specs = probe.metrics(ctx)
    names = [spec.name for spec in specs]
    assert names and len(names) == len(set(names)), names
    for spec in specs:
        assert NAME_RE.fullmatch(spec.name), spec.name
        assert spec.kind in KINDS, (spec.name, spec.kind)
        assert spec.description.strip() and "\n" not in spec.description, spec.name
        assert spec.higher_is_mechanism in (True, False, None), spec.name
        assert spec.threshold is None or isinstance(spec.threshold, float), spec.name
    values = probe.run(ctx)
    assert sorted(values) == sorted(names)
    n_layers, n_heads = ctx.adapter.n_layers, ctx.adapter.n_heads
    expected = {"head": (n_layers, n_heads), "layer": (n_layers,), "scalar": ()}
    for spec in specs:
        value = values[spec.name]
        assert np.asarray(value).dtype.kind == "f", spec.name
        if spec.kind == "vector":
            assert np.ndim(value) == 1 and np.size(value) >= 1, spec.name
            assert spec.shape == np.shape(value), spec.name  # vectors declare their length
        else:
            assert np.shape(value) == expected[spec.kind], spec.name
    # The metrics declared do not depend on having run.
    assert [spec.name for spec in probe.metrics(ctx)] == names
