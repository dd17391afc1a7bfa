"""``tracker organisms``: train / list / path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.cli.main import main
from tracker.organisms import SuiteInfo, suite_info


def test_cli_lists_and_locates(tiny_suite: SuiteInfo, tiny_root: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["organisms", "train", "--suite", "tiny", "--root", str(tiny_root), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "already trained" in out
    assert main(["organisms", "list", "--suite", "tiny", "--root", str(tiny_root)]) == 0
    out = capsys.readouterr().out
    recorded = suite_info("tiny", tiny_root)
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    for model in recorded.models:
        # Columns: ... tok/step, train seconds, tokens/s (as measured in training), state.
        assert rows[model.repo_id][-4:] == [str(model.tokens_per_step),
                                             f"{model.train_seconds:.1f}",
                                             f"{model.tokens_per_second:,.0f}", "complete"]
        assert model.tokens_per_second > 0
    assert main(["organisms", "path", "--suite", "tiny", "--root", str(tiny_root)]) == 0
    assert capsys.readouterr().out.strip() == str(tiny_suite.cache_dir)


def test_cli_unknown_suite_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["organisms", "train", "--suite", "nope"])
    assert "invalid choice" in capsys.readouterr().err


def test_cli_list_untrained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["organisms", "list", "--suite", "tiny", "--root", str(tmp_path)]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert rows and all(row.endswith(" 0.0       -  not trained") for row in rows)
