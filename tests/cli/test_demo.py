"""End to end: the demo on the tiny organism suite (the cheap form of the main job)."""

import re

import pytest

from tracker.cli.main import main
from tracker.events import read_events
from tracker.probes.llc import devinterp_available
from tracker.store import SeriesStore
from tracker.store.validate import validate_file


@pytest.mark.slow
def test_demo_on_tiny_suite(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--suite", "tiny", "--root", str(tmp_path / "organisms"), "--out",
                 str(out), "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    page = re.search(r"report: (.+index\.html)", text)
    assert page, text
    # Smallest model first: its report is written before the next model trains.
    first = text.index("report with 1 of 2 models")
    assert first < text.index("tiny-xs-seed1: training") < text.index("report with 2 of 2")
    html = open(page.group(1)).read()
    assert html.count("data:image/png;base64,") >= 3
    stores = sorted((out / "stores").glob("*.h5"))
    assert len(stores) == 2
    for path in stores:
        assert validate_file(path) == []
        view = SeriesStore(path)
        assert {p for p, _ in view.variants()} >= {"induction", "icl", "successor_heads", "ioi"}
        assert len(view.steps) >= 10
        read_events(path)  # events were written and read back
    # The LLC runs on the smallest model only (when devinterp is installed), stages detected.
    with_llc = [p for p in stores if "llc" in {n for n, _ in SeriesStore(p).variants()}]
    assert len(with_llc) == (1 if devinterp_available() else 0)
    # A second run reuses everything: no training, no probe work.
    assert main(["demo", "--suite", "tiny", "--root", str(tmp_path / "organisms"), "--out",
                 str(out), "--no-progress"]) == 0
    again = capsys.readouterr().out
    assert again.count(" 0 results computed") == 2
