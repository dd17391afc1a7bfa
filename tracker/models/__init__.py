"""Hooked forward passes over Hugging Face models, one adapter file per architecture."""

from tracker.models.base import (
    CAPTURE_FIELDS,
    ArchitectureAdapter,
    Capture,
    HookedOutput,
    check_capture,
)
from tracker.models.registry import get_adapter, register_architecture, supported_model_types

__all__ = [
    "CAPTURE_FIELDS",
    "ArchitectureAdapter",
    "Capture",
    "HookedOutput",
    "check_capture",
    "get_adapter",
    "register_architecture",
    "supported_model_types",
]
