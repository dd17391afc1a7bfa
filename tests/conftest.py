import os
from pathlib import Path

import pytest

# Tests never touch the network: every hub call must be served from a local cache.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

from tests.support.builders import SPINE_STEPS, build_pythia_cache  # noqa: E402


@pytest.fixture(scope="session")
def pythia_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only hub-layout cache of EleutherAI/pythia-tiny with 12 step revisions."""
    return build_pythia_cache(tmp_path_factory.mktemp("hf-cache"), SPINE_STEPS)
