from dataclasses import dataclass

import numpy as np
import pytest

from tests.support.builders import PYTHIA_REPO, SPINE_STEPS
from tracker.probes import Metric, Probe, ProbeConfig, make_probes
from tracker.runner import sweep
from tracker.sources import open_series
from tracker.store import SeriesStore
from tracker.store.validate import validate_file


@dataclass(frozen=True)
class NormConfig(ProbeConfig):
    power: int = 1


class EmbedNormProbe(Probe):
    """Test probe: mean |W_E|^power, a scalar that differs per checkpoint."""

    name = "embed_norm"
    version = 1
    description = "test"
    Config = NormConfig

    def metrics(self, ctx):
        return [Metric(name="embed_norm", kind="scalar", description="mean |W_E|^p",
                       higher_is_mechanism=None)]

    def run(self, ctx):
        w = ctx.adapter.embed_matrix().detach().abs() ** self.config.power
        return {"embed_norm": float(w.mean())}


def test_sweep_writes_a_valid_store_and_second_run_does_no_model_work(tmp_path, pythia_cache):
    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    store = tmp_path / "tiny.h5"
    first = sweep(series, store, make_probes(["induction"]) + [EmbedNormProbe()], progress=False)
    assert first.loads == len(SPINE_STEPS)
    assert len(first.computed) == 2 * len(SPINE_STEPS)
    assert validate_file(store) == []
    view = SeriesStore(store)
    assert view.steps.tolist() == SPINE_STEPS
    ind = view.metric("induction", "induction_score")
    assert ind.shape == (len(SPINE_STEPS), 2, 4)
    assert np.isfinite(ind).all() and (ind >= 0).all() and (ind <= 1).all()
    # Random tiny models: attention is spread, so no head is anywhere near an induction head.
    assert ind.max() < 0.3
    norms = view.metric("embed_norm", "embed_norm")
    assert len(set(np.round(norms, 6).tolist())) == len(SPINE_STEPS)
    assert len(set(view.checkpoint_hashes)) == len(SPINE_STEPS)

    second = sweep(series, store, make_probes(["induction"]) + [EmbedNormProbe()], progress=False)
    assert second.loads == 0 and second.computed == []
    assert second.skipped_steps == SPINE_STEPS


def test_changing_one_probe_config_recomputes_only_that_probe(tmp_path, pythia_cache):
    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    store = tmp_path / "tiny.h5"
    sweep(series, store, make_probes(["induction"]) + [EmbedNormProbe()], steps="first:4",
          progress=False)
    again = sweep(series, store, make_probes(["induction"]) + [EmbedNormProbe(power=2)],
                  steps="first:4", progress=False)
    assert {probe for _, probe in again.computed} == {"embed_norm"}
    assert len(again.computed) == 4
    view = SeriesStore(store)
    keys = [k for p, k in view.variants() if p == "embed_norm"]
    assert len(keys) == 2  # the old variant is kept, not overwritten
    squared = view.metric("embed_norm", "embed_norm", key=EmbedNormProbe(power=2).key)
    plain = view.metric("embed_norm", "embed_norm", key=EmbedNormProbe().key)
    assert np.all(squared[:4] < plain[:4])


def test_two_variants_of_one_probe_in_one_sweep_are_both_stored(tmp_path, pythia_cache):
    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    store = tmp_path / "tiny.h5"
    plain, squared = EmbedNormProbe(), EmbedNormProbe(power=2)
    report = sweep(series, store, [plain, squared], steps="first:3", progress=False)
    assert report.loads == 3 and len(report.computed) == 6
    view = SeriesStore(store)
    assert sorted(k for p, k in view.variants() if p == "embed_norm") == sorted(
        [plain.key, squared.key])
    a = view.metric("embed_norm", "embed_norm", key=plain.key)
    b = view.metric("embed_norm", "embed_norm", key=squared.key)
    # Each variant holds its own values: mean |w|^2 < mean |w| for these small weights.
    assert np.isfinite(a).all() and np.all(b < a)
    assert view.provenance["probes"]["embed_norm"] == [plain.key, squared.key]


def test_forward_passes_are_shared_within_a_step(pythia_cache):
    from tracker.runner import run_probes

    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    loaded = series.load(series.checkpoints()[0])
    probes = make_probes(["induction"]) + make_probes(["induction"], induction={"threshold": 0.5})
    _, ctx = run_probes(probes, loaded.model, loaded.tokenizer, 0)
    assert ctx.forward_count == 1
    assert ctx._cache == {}  # activations are released once every probe that declared them ran


def test_probe_failure_names_step_and_probe(tmp_path, pythia_cache):
    from tracker.errors import TrackerError

    class Broken(EmbedNormProbe):
        name = "broken"

        def run(self, ctx):
            raise ValueError("boom")

    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    store = tmp_path / "s.h5"
    sweep(series, store, [EmbedNormProbe()], steps="first:2", progress=False)
    before = SeriesStore(store).metric("embed_norm", "embed_norm").copy()
    with pytest.raises(TrackerError, match=r"step 0: probe 'broken' failed: ValueError\('boom'\)"):
        sweep(series, store, [EmbedNormProbe(), Broken()], steps="first:2", progress=False)
    assert np.array_equal(SeriesStore(store).metric("embed_norm", "embed_norm"), before)


def test_a_sweep_never_runs_beside_another_on_the_same_store(tmp_path, pythia_cache):
    from tracker.store import LockBusyError, SweepLock

    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    store = tmp_path / "s.h5"
    with SweepLock(store), pytest.raises(LockBusyError, match="another sweep holds it"):
        sweep(series, store, [EmbedNormProbe()], steps="first:1", progress=False)
    assert sweep(series, store, [EmbedNormProbe()], steps="first:1", progress=False).loads == 1


class CountingInputsProbe(EmbedNormProbe):
    """Test probe: records each build of its (weight-free) input and the value it got."""

    name = "counting_inputs"
    builds: list[int] = []
    seen: list[object] = []

    def run(self, ctx):
        value = ctx.memo(f"{self.name}:{self.key}", lambda: self.builds.append(1) or object())
        self.seen.append(value)
        return {"embed_norm": float(len(self.builds))}


def test_a_sweep_builds_probe_inputs_once_for_all_its_checkpoints(tmp_path, pythia_cache):
    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    CountingInputsProbe.builds, CountingInputsProbe.seen = [], []
    report = sweep(series, tmp_path / "s.h5", [CountingInputsProbe()], progress=False)
    assert report.loads == len(SPINE_STEPS) > 1
    assert len(CountingInputsProbe.builds) == 1
    assert len(CountingInputsProbe.seen) == len(SPINE_STEPS)
    assert len({id(v) for v in CountingInputsProbe.seen}) == 1
    # A new sweep (a new series object, so a new tokenizer) builds them again.
    sweep(open_series(PYTHIA_REPO, cache_dir=pythia_cache), tmp_path / "t.h5",
          [CountingInputsProbe()], progress=False)
    assert len(CountingInputsProbe.builds) == 2


def test_a_sweep_fetches_the_next_pending_checkpoint_ahead_of_its_load(
    tmp_path, pythia_cache, monkeypatch
) -> None:
    from tracker.sources.prefetch import FilePrefetcher

    series = open_series(PYTHIA_REPO, cache_dir=pythia_cache)
    step_of = {tuple(series.weight_files(c)): c.step for c in series.checkpoints()}
    events: list[tuple[str, int]] = []
    submit, submit_download, load = (FilePrefetcher.submit, FilePrefetcher.submit_download,
                                     series.load)

    def spy_submit(self, files):
        events.append(("read", step_of[tuple(files)]))
        return submit(self, files)

    def spy_submit_download(self, download):
        (ckpt,) = download.args  # series.download of that checkpoint
        assert download.func == series.download
        events.append(("fetch", ckpt.step))
        return submit_download(self, download)

    def spy_load(ckpt, **kwargs):
        events.append(("load", ckpt.step))
        return load(ckpt, **kwargs)

    monkeypatch.setattr(FilePrefetcher, "submit", spy_submit)
    monkeypatch.setattr(FilePrefetcher, "submit_download", spy_submit_download)
    monkeypatch.setattr(series, "load", spy_load)
    store = tmp_path / "ahead.h5"
    # A first sweep stores the second step, so the second sweep skips it without a load.
    sweep(series, store, [EmbedNormProbe()], steps=str(SPINE_STEPS[1]), progress=False)
    assert events == [("read", SPINE_STEPS[1]), ("load", SPINE_STEPS[1])]
    events.clear()
    sweep(series, store, [EmbedNormProbe()], progress=False)
    s = SPINE_STEPS
    # Each checkpoint's files are read as it loads, and the next pending one is fetched
    # (downloaded where the series is online, then read) before that load; the stored
    # second step is never fetched (a step with a shard may well be skipped).
    assert events[:8] == [("read", s[0]), ("load", s[0]), ("read", s[2]), ("fetch", s[3]),
                          ("load", s[2]), ("read", s[3]), ("fetch", s[4]), ("load", s[3])]
    assert [step for kind, step in events if kind == "load"] == [s[0], *s[2:]]
    assert [step for kind, step in events if kind == "fetch"] == s[3:]
    events.clear()
    sweep(series, tmp_path / "serial.h5", [EmbedNormProbe()], steps=str(s[0]),
          progress=False, prefetch=False)
    assert events == [("load", s[0])]
