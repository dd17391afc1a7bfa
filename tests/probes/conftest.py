import pytest

from tests.support.builders import TINY_MODELS, tiny_model, tiny_tokenizer
from tests.support.planted_models import Planted, circuits_model


@pytest.fixture(scope="session")
def circuits() -> Planted:
    """The standard planted model (read-only: tests that change weights build their own)."""
    return circuits_model()


@pytest.fixture(scope="session")
def tiny():  # type: ignore[no-untyped-def]
    """A random tiny GPT-NeoX and its word-level tokenizer (from tests/support/builders.py)."""
    return tiny_model(), tiny_tokenizer()


@pytest.fixture(scope="session", params=sorted(TINY_MODELS))
def tiny_arch(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A random tiny model of each supported architecture and the word-level tokenizer."""
    return TINY_MODELS[request.param](), tiny_tokenizer()
