"""Every W&B test runs offline with its files inside the test's tmp folder."""

import pytest


@pytest.fixture(autouse=True)
def isolated_wandb(tmp_path, monkeypatch):
    """Keep every W&B file (runs, artifact staging, cache, settings) inside the test's tmp."""
    home = tmp_path / "wandb-home"
    for var, sub in (("WANDB_DIR", "runs"), ("WANDB_CACHE_DIR", "cache"),
                     ("WANDB_DATA_DIR", "data"), ("WANDB_CONFIG_DIR", "config"),
                     ("WANDB_ARTIFACT_DIR", "artifacts")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    return home
