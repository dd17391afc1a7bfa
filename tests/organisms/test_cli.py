"""``tracker organisms``: train / list / path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.cli.main import main
from tracker.organisms import SuiteInfo


def test_cli_lists_and_locates(tiny_suite: SuiteInfo, tiny_root: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["organisms", "train", "--suite", "tiny", "--root", str(tiny_root), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "already trained" in out
    assert main(["organisms", "list", "--suite", "tiny", "--root", str(tiny_root)]) == 0
    out = capsys.readouterr().out
    for model in tiny_suite.models:
        assert model.repo_id in out
    assert out.count("complete") == len(tiny_suite.models)
    assert main(["organisms", "path", "--suite", "tiny", "--root", str(tiny_root)]) == 0
    assert capsys.readouterr().out.strip() == str(tiny_suite.cache_dir)


def test_cli_unknown_suite_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["organisms", "train", "--suite", "nope"])
    assert "invalid choice" in capsys.readouterr().err


def test_cli_list_untrained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["organisms", "list", "--suite", "tiny", "--root", str(tmp_path)]) == 0
    assert "not trained" in capsys.readouterr().out
