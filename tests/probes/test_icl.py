"""In-context-learning probe: planted induction lowers late loss; dataset resolution."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pytest

from tests.support.planted_models import Planted, circuits_builder, repeated_docs
from tracker.errors import UnknownNameError
from tracker.probes import ProbeContext, make_probes, text_data
from tracker.probes.icl import ICLConfig, scaled_positions, windows
from tracker.probes.text_data import register_text_dataset, resolve_text_dataset


def _run(planted: Planted, **config: object) -> tuple[dict[str, float], ProbeContext]:
    ctx = ProbeContext(planted.model, planted.tokenizer)
    ctx.scratch["text_dataset"] = datasets.Dataset.from_dict({"text": repeated_docs()})
    (probe,) = make_probes(["icl"], icl=dict(config))
    probe.declare(ctx)
    return dict(probe.run(ctx)), ctx


def test_induction_model_learns_in_context(circuits: Planted) -> None:
    """With a 256-token context the windows are tokens 5-7 and 56-68. The first sit in the
    first copy of the block (unpredictable); the late ones have earlier copies, which the
    planted induction head copies forward, so their loss is ~0 (and so is its spread)."""
    out, ctx = _run(circuits)
    assert out["icl_n_docs"] == 8.0
    assert out["late_loss"] < 1e-3
    assert out["early_loss"] > 5.0
    assert out["icl_score"] == pytest.approx(out["late_loss"] - out["early_loss"])
    assert out["early_loss"] > out["mean_loss"] > out["late_loss"]
    assert out["late_loss_se"] < 1e-3
    assert 0.0 <= out["icl_score_se"] < 0.5 * abs(out["icl_score"])
    assert ctx.forward_count == 1


def test_no_induction_no_icl() -> None:
    """Previous-token head only: each prediction depends on the current token alone, every
    next token is a different filler, so early and late losses agree."""
    builder = circuits_builder()
    builder.previous_token_head(0, 0)
    out, _ = _run(builder.build())
    assert abs(out["icl_score"]) < 1e-3
    assert out["mean_loss"] > 1.0


@pytest.mark.parametrize(
    ("n_ctx", "expected"), [(2048, (50, 500)), (4096, (50, 500)), (256, (6, 62)), (128, (3, 31))]
)
def test_scaled_positions(n_ctx: int, expected: tuple[int, int]) -> None:
    assert scaled_positions(ICLConfig(), n_ctx) == expected


@pytest.mark.parametrize(
    ("n_ctx", "early", "late"),
    [(2048, (40, 60), (450, 550)), (256, (5, 7), (56, 68)), (128, (2, 4), (28, 34))],
)
def test_windows(n_ctx: int, early: tuple[int, int], late: tuple[int, int]) -> None:
    got = windows(ICLConfig(), n_ctx)
    assert [(w.start, w.stop - 1) for w in got] == [early, late]


def test_short_documents_give_nan(circuits: Planted) -> None:
    ctx = ProbeContext(circuits.model, circuits.tokenizer)
    ctx.scratch["text_datasets"] = {"short": ["w1 w2 w3"] * 4}
    (probe,) = make_probes(["icl"], icl={"dataset": "short"})
    probe.declare(ctx)
    out = probe.run(ctx)
    assert out["icl_n_docs"] == 0.0 and np.isnan(out["icl_score"])
    assert ctx.forward_count == 0


def test_dataset_sources(
    circuits: Planted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scratch by name, registered factory, saved dataset folder, .txt file, token ids."""
    ctx = ProbeContext(circuits.model, circuits.tokenizer)
    docs = repeated_docs(n_docs=3)
    reference = None
    ds = datasets.Dataset.from_dict({"text": docs})
    ds.save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "docs.txt").write_text("\n".join(docs) + "\n", encoding="utf-8")
    ids = [circuits.tokenizer.encode(d) for d in docs]
    ctx.scratch["text_datasets"] = {
        "mine": docs, "ids": datasets.Dataset.from_dict({"input_ids": ids})
    }
    monkeypatch.setattr(text_data, "_FACTORIES", {})
    monkeypatch.setattr(text_data, "_LOADED", {})
    register_text_dataset("test-factory", lambda: docs)
    paths = [str(tmp_path / "saved"), str(tmp_path / "docs.txt")]
    for name in ["mine", "ids", "test-factory", *paths]:
        sub = ProbeContext(circuits.model, circuits.tokenizer)
        sub.scratch.update(ctx.scratch)
        (probe,) = make_probes(["icl"], icl={"dataset": name})
        out = probe.run(sub)
        assert out["icl_n_docs"] == 3.0, name
        reference = out if reference is None else reference
        assert out == reference, name
    with pytest.raises(UnknownNameError, match="not found"):
        resolve_text_dataset(ctx, "no-such-dataset")


def test_a_path_dataset_is_keyed_by_its_content(
    circuits: Planted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same path, new content -> new result key; a stale digest is an error, not reuse."""
    from tracker.cli.sweep import build_probes

    monkeypatch.setattr(text_data, "_LOADED_PATHS", {})
    folder = tmp_path / "saved"
    datasets.Dataset.from_dict({"text": repeated_docs(n_docs=3)}).save_to_disk(str(folder))
    (before,) = build_probes("icl", [], str(folder))
    assert before.config.dataset == str(folder.resolve())
    assert before.config.dataset_digest == text_data.content_digest(folder)
    moved = tmp_path / "moved"
    folder.rename(moved)
    assert text_data.content_digest(moved) == before.config.dataset_digest
    moved.rename(folder)

    ctx = ProbeContext(circuits.model, circuits.tokenizer)
    assert before.run(ctx)["icl_n_docs"] == 3.0
    datasets.Dataset.from_dict({"text": repeated_docs(n_docs=4)}).save_to_disk(str(folder))
    (after,) = build_probes("icl", [], str(folder))
    assert after.config.dataset_digest != before.config.dataset_digest
    assert after.key != before.key
    assert after.run(ProbeContext(circuits.model, circuits.tokenizer))["icl_n_docs"] == 4.0
    with pytest.raises(ValueError, match=r"saved: content digest [0-9a-f]{16} differs from"):
        before.run(ProbeContext(circuits.model, circuits.tokenizer))
