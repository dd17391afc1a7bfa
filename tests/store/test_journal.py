"""The sweep journal: atomic, tolerant of damage, keeps the runs throughput is measured on."""

from tracker.store import Journal, RunRecord
from tracker.store.journal import KEEP_RUNS, journal_path


def test_round_trip_and_failures(tmp_path):
    store = tmp_path / "s.h5"
    journal = Journal()
    journal.record_failure(8, "step 8: cannot load weights")
    journal.record_failure(8, "step 8: still broken")
    journal.record_failure(2, "step 2: boom")
    journal.runs.append(RunRecord(started=1.0, seconds=2.0, computed_steps=3))
    journal.wandb_run_id, journal.wandb_last_step, journal.evicted = "abc", 4, [4, 2, 4]
    journal.save(store)
    again = Journal.load(store)
    assert again.failed_steps() == {2: "step 2: boom", 8: "step 8: still broken"}
    assert again.failures["8"]["attempts"] == 2
    assert again.runs == journal.runs
    assert (again.wandb_run_id, again.wandb_last_step, again.evicted) == ("abc", 4, [2, 4])
    again.clear_failure(8)
    assert list(again.failed_steps()) == [2]
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_damaged_journal_reads_as_empty(tmp_path):
    store = tmp_path / "s.h5"
    journal_path(store).write_text('{"failures": {"1": ')
    assert Journal.load(store) == Journal()
    assert Journal.load(tmp_path / "never.h5") == Journal()


def test_idle_runs_do_not_push_out_the_runs_that_worked(tmp_path):
    store = tmp_path / "s.h5"
    journal = Journal(runs=[RunRecord(started=i, computed_steps=1, seconds=1.0)
                            for i in range(3)])
    journal.runs += [RunRecord(started=10 + i) for i in range(50)]
    journal.save(store)
    kept = Journal.load(store).runs
    assert [r.started for r in kept] == [0, 1, 2, 59]
    journal.runs = [RunRecord(started=i, computed_steps=1) for i in range(40)]
    journal.save(store)
    assert len(Journal.load(store).runs) == KEEP_RUNS
