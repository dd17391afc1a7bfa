import json

import pytest

from tracker.datafiles import data_dir, schema_path
from tracker.organisms.task_words import tasks_dir
from tracker.store.validate import load_schema


def test_data_dir_is_the_shipped_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACKER_DATA_DIR", raising=False)
    ioi = json.loads((data_dir() / "tasks" / "ioi.json").read_text())
    assert "names" in ioi
    assert tasks_dir() == data_dir() / "tasks"


def test_env_overrides_the_data_folder_for_probes_and_organisms(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    assert tasks_dir() == tmp_path / "tasks"


def test_schema_is_shipped_and_loads() -> None:
    assert schema_path().name == "store.schema.json"
    assert schema_path().is_file()
    assert load_schema() == json.loads(schema_path().read_text())
