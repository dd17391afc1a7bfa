import pytest

from tests.support.builders import tiny_model, tiny_tokenizer
from tracker.errors import SourceError
from tracker.sources import LocalFolderSeries, open_series


def _save(path, seed):
    tiny_model(seed=seed).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)


def test_step_and_checkpoint_folders(tmp_path):
    _save(tmp_path / "step0", 1)
    _save(tmp_path / "checkpoint-20", 2)
    _save(tmp_path / "step5", 3)
    (tmp_path / "step9").mkdir()  # still being written: no config.json yet
    series = open_series(str(tmp_path), tokens_per_step=100)
    assert isinstance(series, LocalFolderSeries)
    ckpts = series.checkpoints()
    assert [(c.step, c.revision, c.tokens) for c in ckpts] == [
        (0, "step0", 0), (5, "step5", 500), (20, "checkpoint-20", 2000)
    ]
    loaded = [series.load(c) for c in ckpts]
    assert len({x.weights_hash for x in loaded}) == 3
    assert loaded[0].tokenizer is not None


def test_glob_pattern_uses_last_integer(tmp_path):
    _save(tmp_path / "run3_iter_0100", 1)
    _save(tmp_path / "run3_iter_0200", 2)
    series = LocalFolderSeries(tmp_path, pattern="run3_iter_*")
    assert [c.step for c in series.checkpoints()] == [100, 200]


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="no checkpoint folders"):
        LocalFolderSeries(tmp_path).checkpoints()


def test_new_checkpoints_appear_on_relisting(tmp_path):
    _save(tmp_path / "step0", 1)
    series = LocalFolderSeries(tmp_path)
    assert [c.step for c in series.checkpoints()] == [0]
    _save(tmp_path / "step10", 2)
    assert [c.step for c in series.checkpoints()] == [0, 10]
