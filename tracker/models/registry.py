"""Registry of architecture adapters, keyed by Hugging Face ``model_type``."""

from __future__ import annotations

from typing import Any

from tracker.errors import UnsupportedArchitectureError
from tracker.models.base import ArchitectureAdapter
from tracker.registry import Registry

_ADAPTERS: Registry[ArchitectureAdapter] = Registry(
    "architecture", "tracker.models", names_of=lambda cls: cls.model_types
)


#: Class decorator: register an adapter for each of its ``model_types``.
register_architecture = _ADAPTERS.register
#: The model types with an adapter, sorted.
supported_model_types = _ADAPTERS.names


def get_adapter(model: Any, what: str = "model") -> ArchitectureAdapter:
    """Wrap a loaded Hugging Face model in its architecture's adapter.

    Args:
        model: A loaded ``PreTrainedModel``.
        what: Name of the checkpoint for the error message.

    Raises:
        UnsupportedArchitectureError: If no adapter handles ``model.config.model_type``.
    """
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if not isinstance(model_type, str) or model_type not in _ADAPTERS:
        raise UnsupportedArchitectureError(
            f"{what}: unsupported architecture {model_type!r} "
            f"(supported: {', '.join(supported_model_types())})"
        )
    return _ADAPTERS.get(model_type)(model)
