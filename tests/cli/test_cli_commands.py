"""One module per command group; shared pieces come from one place."""

import importlib

import pandas as pd
import pytest

from tests.support.detection_stores import planted_store
from tracker.cli.main import COMMAND_MODULES, build_parser, main
from tracker.events import detect_stores, events_meta, read_events
from tracker.labels import format_tokens
from tracker.runner.watch import IDLE_TIMEOUT, POLL_SECONDS


def _commands(module_name: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    module = importlib.import_module(module_name)
    return {name for name, p in sub.choices.items()
            if p.get_default("func") and p.get_default("func").__module__ == module.__name__}


@pytest.mark.parametrize(("module", "commands"), [
    ("tracker.cli.detect", {"detect", "timeline"}),
    ("tracker.cli.report", {"plot", "report"}),
    ("tracker.cli.log_wandb", {"log-wandb"}),
    ("tracker.cli.demo", {"demo"}),
    ("tracker.cli.llc", {"llc-calibrate"}),
])
def test_each_command_group_has_its_own_module(module, commands):
    assert module in COMMAND_MODULES
    assert _commands(module) == commands


def test_query_lives_in_its_own_module():
    assert "tracker.cli.query" in COMMAND_MODULES
    args = build_parser().parse_args(["query", "when", "s.h5", "--kind", "induction",
                                      "--head", "L1H3"])
    assert args.func.__module__ == "tracker.cli.query"


def test_watch_defaults_come_from_the_runner():
    args = build_parser().parse_args(["sweep", "org/x", "--store", "s.h5", "--watch"])
    assert (args.poll, args.idle_timeout) == (POLL_SECONDS, IDLE_TIMEOUT)


def test_detect_command_and_detect_stores_agree(tmp_path, capsys):
    a = planted_store(tmp_path / "a.h5", "org/a", 2000, seed=1)
    b = planted_store(tmp_path / "b.h5", "org/b", 500, seed=2, handover=False)
    found, table = detect_stores([a, b])
    assert [f.series_id for f in found] == ["org/a", "org/b"]
    for f in found:
        assert len(read_events(f.path)) == len(f.frame) > 0
    first = table[table.metric == "induction_score"].set_index("series")
    assert first.loc["org/a", "head_label"] == "L0H1"  # the early riser of the handover
    assert first.loc["org/b", "head_label"] == "L1H2"
    assert main(["detect", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    # Tokens in the one short form (labels.format_tokens), heads as L1H2.
    onset_b = first.loc["org/b", "onset_tokens"]
    assert f"onset {format_tokens(onset_b):>8} tokens  L1H2" in out


def test_detect_stores_reuses_known_events_without_detecting_again(tmp_path):
    a = planted_store(tmp_path / "a.h5", "org/a", 2000, seed=1)
    b = planted_store(tmp_path / "b.h5", "org/b", 500, seed=2, handover=False)
    first, _ = detect_stores([a])
    written = events_meta(a)["written_at"]
    both, table = detect_stores([a, b], known=first)
    assert events_meta(a)["written_at"] == written  # a was not detected again
    assert both[0] is first[0]
    assert len(read_events(b)) == len(both[1].frame) > 0
    _, fresh = detect_stores([a, b])
    assert events_meta(a)["written_at"] > written
    pd.testing.assert_frame_equal(table, fresh)
