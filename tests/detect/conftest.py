"""Fixtures of the detector tests."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.curves import PYTHIA_STEPS, PYTHIA_X


@pytest.fixture(scope="session")
def pythia_steps() -> np.ndarray:
    return np.array(PYTHIA_STEPS)


@pytest.fixture(scope="session")
def pythia_x() -> np.ndarray:
    return PYTHIA_X.copy()
