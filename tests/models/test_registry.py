from types import SimpleNamespace

import pytest

from tests.support.builders import TINY_MODELS
from tracker.errors import UnsupportedArchitectureError
from tracker.models import get_adapter, supported_model_types
from tracker.models.gpt2 import GPT2Adapter
from tracker.models.llama import LlamaAdapter
from tracker.models.olmo2 import Olmo2Adapter


def test_unsupported_architecture_is_named_with_the_supported_ones() -> None:
    model = SimpleNamespace(config=SimpleNamespace(model_type="mamba"))
    with pytest.raises(UnsupportedArchitectureError,
                       match=r"some/repo@step1: .*'mamba'.*supported: gpt2, gpt_neox, llama"):
        get_adapter(model, what="some/repo@step1")
    with pytest.raises(UnsupportedArchitectureError, match="None"):
        get_adapter(object())


def test_each_model_type_gets_its_adapter() -> None:
    assert supported_model_types() == ["gpt2", "gpt_neox", "llama", "olmo", "olmo2"]
    expected = {"gpt2": GPT2Adapter, "llama": LlamaAdapter, "olmo": LlamaAdapter,
                "olmo2": Olmo2Adapter}
    for model_type, cls in expected.items():
        assert type(get_adapter(TINY_MODELS[model_type]())) is cls
