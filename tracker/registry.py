"""A name -> class registry whose entries register themselves from their own modules.

One discovery rule for probes, detectors and architectures: on the first lookup every module
of the registry's package is imported, and a module holds entries exactly when it applies the
registry's decorator. There is no list of modules to keep in step with the files.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from tracker.errors import UnknownNameError

T = TypeVar("T")
C = TypeVar("C", bound=type)


def _own_name(cls: Any) -> Iterable[str]:
    return (cls.name,)


class Registry(Generic[T]):
    """Classes registered under their names, loaded lazily from a package.

    Args:
        kind: What is registered, for messages (``probe``, ``detector``, ``architecture``).
        package: Dotted package whose modules register entries.
        names_of: The names a class registers under (default: its ``name`` attribute).
    """

    def __init__(self, kind: str, package: str,
                 names_of: Callable[[type[T]], Iterable[str]] = _own_name) -> None:
        self.kind = kind
        self.package = package
        self.names_of = names_of
        self._entries: dict[str, type[T]] = {}
        self._loaded = False

    def register(self, cls: C) -> C:
        """Class decorator: register ``cls`` under each of its names (returned unchanged).

        Raises:
            ValueError: If another class already holds a name.
        """
        for name in self.names_of(cls):
            if name in self._entries and self._entries[name] is not cls:
                raise ValueError(f"{self.kind} name {name!r} registered twice")
            self._entries[name] = cls
        return cls

    def _load(self) -> None:
        if self._loaded:
            return
        pkg = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{self.package}.{info.name}")
        self._loaded = True

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

    def get(self, name: str) -> type[T]:
        """Return the class registered under ``name``.

        Raises:
            UnknownNameError: If nothing has that name (the message lists the known ones).
        """
        self._load()
        if name not in self._entries:
            known = ", ".join(sorted(self._entries))
            raise UnknownNameError(f"unknown {self.kind} {name!r} (known: {known})")
        return self._entries[name]
