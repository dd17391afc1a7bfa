from tests.support.builders import tiny_model, tiny_tokenizer
from tracker.probes import make_probes
from tracker.runner import watch
from tracker.sources import LocalFolderSeries
from tracker.store import SeriesStore


def _save(path, seed):
    tiny_model(seed=seed).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)


def test_watch_picks_up_checkpoints_written_while_running(tmp_path):
    run = tmp_path / "run"
    _save(run / "step0", 1)
    now = [0.0]
    writes = {1: 10, 2: 20}  # poll number -> step the trainer writes before that poll
    polls = [0]

    def fake_sleep(seconds):
        now[0] += seconds
        polls[0] += 1
        if polls[0] in writes:
            _save(run / f"step{writes[polls[0]]}", polls[0] + 1)

    report = watch(LocalFolderSeries(run), tmp_path / "s.h5", make_probes(["induction"]),
                   poll_seconds=10, idle_timeout=25, sleep=fake_sleep, clock=lambda: now[0],
                   progress=False)
    assert [s for s, _ in report.computed] == [0, 10, 20]
    assert SeriesStore(tmp_path / "s.h5").steps.tolist() == [0, 10, 20]
    assert polls[0] >= 4  # kept polling past the last write until idle


def test_watch_retries_a_half_written_checkpoint(tmp_path):
    run = tmp_path / "run"
    _save(run / "step0", 1)
    (run / "step5").mkdir()
    (run / "step5" / "config.json").write_text((run / "step0" / "config.json").read_text())
    now = [0.0]

    def fake_sleep(seconds):
        now[0] += seconds
        if not (run / "step5" / "model.safetensors").exists():
            _save(run / "step5", 7)  # the trainer finishes writing

    report = watch(LocalFolderSeries(run), tmp_path / "s.h5", make_probes(["induction"]),
                   poll_seconds=10, idle_timeout=15, sleep=fake_sleep, clock=lambda: now[0],
                   progress=False)
    # Step 0 was stored by the poll that then failed on step 5; step 5 by the retry.
    assert [s for s, _ in report.computed] == [5]
    assert SeriesStore(tmp_path / "s.h5").steps.tolist() == [0, 5]
