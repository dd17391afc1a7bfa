"""Hub series of each suite, read from hub-layout caches of tiny models of its architecture."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.support.builders import build_suite_cache
from tracker.models import get_adapter
from tracker.probes import make_probes
from tracker.runner import sweep
from tracker.sources import HubSeries, list_cached_refs, open_series
from tracker.store import SeriesStore

#: repo id -> (architecture, revisions written, user pattern or None,
#:             expected [(step, tokens)], expected tokens per step)
SCHEME_OF = {"allenai/OLMo-1B-hf": "olmo", "allenai/OLMo-2-0425-1B": "olmo2",
             "stanford-crfm/alias-gpt2-small-x21": "crfm", "LLM360/Amber": "amber",
             "me/my-llama": "user"}
SUITES = {
    "allenai/OLMo-1B-hf": (
        "olmo", ["main", "step0-tokens0B", "step1000-tokens4B", "step2000-tokens8B"], None,
        [(0, 0), (1000, 4 * 10**9), (2000, 8 * 10**9)], 4_000_000),
    "allenai/OLMo-2-0425-1B": (
        "olmo2", ["stage1-step0-tokens0B", "stage1-step1000-tokens5B",
                  "stage2-ingredient1-step500-tokens2B"], None,
        [(0, 0), (1000, 5 * 10**9)], 5_000_000),
    "stanford-crfm/alias-gpt2-small-x21": (
        "gpt2", ["checkpoint-0", "checkpoint-100", "checkpoint-200"], None,
        [(0, 0), (100, 100 * 524_288), (200, 200 * 524_288)], 524_288),
    "LLM360/Amber": (
        "llama", ["ckpt_000", "ckpt_001", "ckpt_359"], None,
        [(0, 0), (1, 3_507_325_905), (359, 359 * 3_507_325_905)], 3_507_325_905),
    "me/my-llama": (
        "llama", ["main", "run-10-5M", "run-20-10M"], r"run-(?P<step>\d+)-(?P<tokens>\d+M)",
        [(10, 5 * 10**6), (20, 10**7)], 500_000),
}


@pytest.fixture(scope="module")
def suite_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("suites")
    for repo, (arch, revisions, _, _, _) in SUITES.items():
        build_suite_cache(cache, repo, arch, revisions)
    return cache


@pytest.mark.parametrize("repo", sorted(SUITES))
def test_series_of_each_suite_lists_and_loads_offline(repo: str, suite_cache: Path) -> None:
    arch, _, pattern, expected, per_step = SUITES[repo]
    series = open_series(repo, cache_dir=suite_cache, revisions=pattern)
    assert isinstance(series, HubSeries) and series.local_files_only
    ckpts = series.checkpoints()
    assert [(c.step, c.tokens) for c in ckpts] == expected
    assert series.tokens_per_step == per_step
    first, last = series.load(ckpts[0]), series.load(ckpts[-1])
    assert first.model.config.model_type == arch
    assert first.model.config._attn_implementation == "eager"
    assert first.weights_hash != last.weights_hash
    assert last.provenance["revision"] == ckpts[-1].revision
    assert last.provenance["commit"] == list_cached_refs(suite_cache, repo)[ckpts[-1].revision]
    assert series.describe()["revisions"].split(":")[0] == SCHEME_OF[repo]
    ids = torch.tensor([[0, 5, 9, 5, 9]])
    with torch.no_grad():
        ours = get_adapter(last.model).forward(ids).logits
        assert (ours - last.model(ids).logits).abs().max() < 1e-4


def test_tokens_per_step_is_known_before_listing(suite_cache: Path) -> None:
    """W&B and the store read it first: it lists the revisions when it comes from names."""
    series = open_series("allenai/OLMo-1B-hf", cache_dir=suite_cache)
    assert series.tokens_per_step == 4_000_000
    given = open_series("allenai/OLMo-1B-hf", cache_dir=suite_cache, tokens_per_step=4_194_304)
    assert given.tokens_per_step == 4_194_304
    assert given.checkpoints()[-1].tokens == 8 * 10**9 and given.tokens_per_step == 4_194_304


def test_online_listing_reads_branches_and_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    ref = SimpleNamespace
    listing = SimpleNamespace(
        branches=[ref(name="main", target_commit="a"),
                  ref(name="checkpoint-10", target_commit="b")],
        tags=[ref(name="checkpoint-20", target_commit="c")])
    asked = []
    monkeypatch.setattr(huggingface_hub, "list_repo_refs",
                        lambda repo_id: asked.append(repo_id) or listing)
    series = HubSeries("stanford-crfm/beren-gpt2-medium-x49")
    assert [(c.step, c.revision) for c in series.checkpoints()] == [
        (10, "checkpoint-10"), (20, "checkpoint-20")]
    assert series.tokens_per_step == 524_288 and asked == ["stanford-crfm/beren-gpt2-medium-x49"]


@pytest.mark.parametrize("repo", ["stanford-crfm/alias-gpt2-small-x21", "allenai/OLMo-2-0425-1B"])
def test_sweep_stores_steps_and_tokens(repo: str, tmp_path: Path, suite_cache: Path) -> None:
    _, _, _, expected, per_step = SUITES[repo]
    series = open_series(repo, cache_dir=suite_cache)
    store = tmp_path / "series.h5"
    report = sweep(series, store, make_probes(["induction"], induction={"n_seqs": 4}),
                   progress=False)
    assert report.loads == len(expected)
    view = SeriesStore(store)
    assert list(zip(view.steps.tolist(), view.tokens.tolist(), strict=True)) == expected
    assert view.tokens_per_step == per_step
    scores = view.metric("induction", "induction_score")
    assert scores.shape == (len(expected), 2, 4) and np.isfinite(scores).all()
