"""``tracker llc-calibrate`` on a local folder series of one tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.builders import tiny_model, tiny_tokenizer
from tracker.cli.main import main


def _series(tmp_path: Path) -> tuple[Path, Path]:
    run = tmp_path / "run"
    tiny_model(seed=1).save_pretrained(run / "step10")
    tiny_tokenizer().save_pretrained(run / "step10")
    text = tmp_path / "docs.txt"
    text.write_text("\n".join(" ".join(f"w{(i * 7 + k) % 50}" for i in range(80))
                              for k in range(8)) + "\n")
    return run, text


def test_calibrate_prints_each_cell_a_recommendation_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """lr 1e3 blows the tiny model up (every draw NaN, so not recommended); 1e-6 is tiny
    enough to stay healthy over 20 draws with strong localization."""
    pytest.importorskip("devinterp")
    pytest.importorskip("matplotlib")
    run, text = _series(tmp_path)
    code = main(["llc-calibrate", str(run), "--text-dataset", str(text), "--steps", "10",
                 "--lrs", "1e-6,1e3", "--n-betas", "0", "--chains", "1", "--draws", "20",
                 "--seq-len", "16", "--n-seqs", "32", "--batch-size", "8",
                 "--plot", str(tmp_path / "plots")])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    cells = [line for line in out if " llc " in line]
    assert len(cells) == 2
    assert cells[0].startswith("step 10  lr 1e-06") and cells[0].endswith("nan 0")
    assert cells[1].startswith("step 10  lr 1000") and not cells[1].endswith("nan 0")
    assert "step 10  recommended: " in out[2]
    assert "llc.lr=1000" not in out[2]
    assert (tmp_path / "plots" / "llc_traces_step10.png").stat().st_size > 1000


def test_calibrate_unknown_step_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("devinterp")
    run, text = _series(tmp_path)
    code = main(["llc-calibrate", str(run), "--text-dataset", str(text), "--steps", "7"])
    assert code == 1
    assert "no checkpoint at steps [7]" in capsys.readouterr().err


def test_the_demo_skips_the_llc_with_the_install_line_without_devinterp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without devinterp the demo's LLC step prints why and sweeps nothing."""
    import sys

    from tracker.cli.llc import demo_sweep
    from tracker.probes.llc import INSTALL_HINT

    monkeypatch.setitem(sys.modules, "devinterp.slt.llc", None)  # import now fails
    (tmp_path / "dataset").mkdir()
    demo_sweep(None, tmp_path / "store.h5", tmp_path, None, progress=False)
    assert capsys.readouterr().out.strip() == f"llc skipped ({INSTALL_HINT})"
