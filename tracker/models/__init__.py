"""Hooked forward passes over Hugging Face models, one adapter file per architecture."""

from tracker.models import gpt_neox  # noqa: F401  (registers the adapter)
from tracker.models.base import CAPTURE_FIELDS, ArchitectureAdapter, HookedOutput
from tracker.models.registry import get_adapter, register_architecture, supported_model_types

__all__ = [
    "CAPTURE_FIELDS",
    "ArchitectureAdapter",
    "HookedOutput",
    "get_adapter",
    "register_architecture",
    "supported_model_types",
]
