"""Checks shared by the registry contract tests: config classes, keys and package discovery."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pkgutil
import re
from typing import Any

import pytest

#: What a registered name must look like (it names store groups, CLI options and W&B keys).
NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
#: A variant key: ``v{version}-{16 hex chars of the config hash}``.
KEY_RE = re.compile(r"v[0-9]+-[0-9a-f]{16}")


def check_frozen_json_config(config: Any, base: type) -> dict[str, Any]:
    """Assert ``config`` is a frozen, hashable dataclass of ``base`` whose JSON round-trips.

    Returns:
        The parsed canonical JSON.
    """
    cls = type(config)
    assert issubclass(cls, base)
    assert dataclasses.is_dataclass(config) and cls.__dataclass_params__.frozen
    fields = [f.name for f in dataclasses.fields(config)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(config, fields[0] if fields else "anything", 1)
    hash(config)
    text = config.to_json()
    doc = json.loads(text)
    assert list(doc) == sorted(fields)
    assert text == json.dumps(doc, sort_keys=True, separators=(",", ":"))
    rebuilt = cls(**doc)
    assert rebuilt.to_json() == text
    assert cls().to_json() == text
    return doc


def concrete_subclasses_in_package(package: str, base: type) -> list[type]:
    """Every non-abstract subclass of ``base`` defined in a module of ``package``.

    Subpackages are searched too (a probe split over several files lives in one).
    """
    pkg = importlib.import_module(package)
    found = []
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (issubclass(obj, base) and obj is not base and obj.__module__ == module.__name__
                    and not inspect.isabstract(obj)):
                found.append(obj)
    return found
