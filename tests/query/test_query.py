import pytest

from tests.support.detection_stores import planted_store
from tracker.cli.main import main
from tracker.errors import TrackerError
from tracker.query import changes_between, heads_at_step, when_became
from tracker.store import SeriesStore


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = planted_store(tmp_path_factory.mktemp("q") / "s.h5", "org/s", 2000, seed=3)
    assert main(["detect", str(path)]) == 0
    return path


def test_heads_at_step_uses_probe_threshold(store):
    frame = heads_at_step(SeriesStore(store), "induction", 40000)
    assert [(r.layer, r.head) for r in frame.itertuples()] == [(1, 2), (1, 3)]
    assert (frame["score"] >= 0.4).all()
    early = heads_at_step(SeriesStore(store), "induction_score", 1000)
    assert list(zip(early["layer"], early["head"], strict=True)) == [(0, 1)]
    assert heads_at_step(SeriesStore(store), "induction", 1000, threshold=0.01).shape[0] == 8


def test_when_became_uses_the_emergence_definition(store, tmp_path):
    row = when_became(SeriesStore(store), "induction", "L1H2").iloc[0]
    assert 1000 <= row.first_step <= 3000
    assert row.first_step == row.event_onset_step
    assert 1600 < row.event_midpoint_step < 2500
    assert row.event_detector.startswith("transition:")
    assert row.first_tokens == row.first_step * 1000
    never = when_became(SeriesStore(store), "induction", (0, 0)).iloc[0]
    assert never.first_step != never.first_step  # NaN: it never did
    assert never.event_detector == ""
    # Without stored events the definition is applied now, and agrees with tracker detect.
    fresh = planted_store(tmp_path / "fresh.h5", "org/s", 2000, seed=3)
    computed = when_became(SeriesStore(fresh), "induction", "L1H2").iloc[0]
    assert computed.first_step == row.first_step
    assert computed.event_midpoint_step == pytest.approx(row.event_midpoint_step)
    # A threshold above the head's final level: no emergence (computed, not read).
    high = when_became(SeriesStore(store), "induction", "L1H2", threshold=5.0).iloc[0]
    assert high.threshold == 5.0 and high.first_step != high.first_step
    assert list(row.index) == [
        "series", "metric", "head", "threshold", "first_step", "first_tokens", "final_score",
        "event_onset_step", "event_midpoint_step", "event_end_step", "event_onset_tokens",
        "event_detector"]


def test_changes_between(store):
    frame = changes_between(SeriesStore(store), 512, 4000, min_change=0.2)
    top = frame.iloc[0]
    assert top.metric == "mean_loss" and top.change < -0.8
    l1h2 = frame[(frame.metric == "induction_score") & (frame["layer"] == 1) & (frame["head"] == 2)]
    assert len(l1h2) == 1 and l1h2.iloc[0].crossed_threshold


def test_bad_queries_name_the_problem(store):
    with pytest.raises(TrackerError, match="step 777 is not stored"):
        heads_at_step(SeriesStore(store), "induction", 777)
    with pytest.raises(TrackerError, match="no metric 'successor'.*induction_score"):
        heads_at_step(SeriesStore(store), "successor", 0)
    with pytest.raises(TrackerError, match="expected a label like L1H3"):
        when_became(SeriesStore(store), "induction", "1.3")
    with pytest.raises(TrackerError, match="outside the model"):
        when_became(SeriesStore(store), "induction", "L5H0")


def test_cli_queries_and_timeline(store, tmp_path, capsys):
    other = planted_store(tmp_path / "big.h5", "org/big", 500, seed=4, handover=False)
    capsys.readouterr()
    assert main(["detect", str(store), str(other)]) == 0
    out = capsys.readouterr().out
    assert "mechanism onsets across series" in out and "handover" in out
    assert main(["timeline", str(store), str(other)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["mechanism", "org/s", "org/big"]
    assert any(line.startswith("induction_score") for line in lines)
    assert main(["query", "when", str(store), "--kind", "induction", "--head", "L1H2"]) == 0
    assert "L1H2" in capsys.readouterr().out
    assert main(["query", "heads", str(store), "--kind", "induction", "--step", "40000"]) == 0
    assert "1     2" in capsys.readouterr().out
    assert main(["query", "changed", str(store), "--from", "512", "--to", "4000"]) == 0
    assert "mean_loss" in capsys.readouterr().out


def test_cli_order_and_widths(store, tmp_path, capsys):
    from tests.support.detection_stores import circuit_order_store
    from tracker.query import circuit_order, transition_widths

    circuit = circuit_order_store(tmp_path / "c.h5")
    frame = circuit_order([SeriesStore(circuit), SeriesStore(store)])
    # The planted store has no composition probe: only the circuit store answers.
    assert list(frame["series"]) == ["org/circuit"]
    assert frame["order"].iloc[0] == "prev_token < k_composition < induction < copying"
    capsys.readouterr()
    assert main(["query", "order", str(circuit)]) == 0
    out = capsys.readouterr().out
    assert "L1H0" in out and "L0H1" in out and "prev_token < k_composition" in out
    assert main(["query", "order", str(circuit), "--parts"]) == 0
    assert "L0H1>L1H0" in capsys.readouterr().out
    widths = transition_widths([SeriesStore(store)])
    rise = widths[(widths["metric"] == "induction_score") & (widths["kind"] == "emergence")]
    assert rise["events"].sum() >= 1 and (rise["abrupt"] + rise["gradual"]).sum() >= 1
    assert main(["query", "widths", str(store)]) == 0
    assert "induction_score" in capsys.readouterr().out
