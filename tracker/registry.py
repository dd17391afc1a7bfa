"""A name -> class registry whose entries register themselves from their own modules."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from typing import Generic, TypeVar

from tracker.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Classes registered by their ``name`` attribute, loaded lazily from a package.

    Every module of ``package`` except those in ``skip`` (and those starting with ``_``) is
    imported on first lookup, so adding a probe or detector is adding one file.

    Args:
        kind: What is registered, for messages (``probe``, ``detector``).
        package: Dotted package whose modules register entries.
        skip: Module names of the package that hold no entries.
    """

    def __init__(self, kind: str, package: str, skip: Iterable[str] = ()) -> None:
        self.kind = kind
        self.package = package
        self.skip = frozenset(skip)
        self._entries: dict[str, type[T]] = {}
        self._loaded = False

    def register(self, cls: type[T]) -> type[T]:
        """Class decorator: register ``cls`` under ``cls.name``.

        Raises:
            ValueError: If another class already holds the name.
        """
        name = cls.name  # type: ignore[attr-defined]
        if name in self._entries and self._entries[name] is not cls:
            raise ValueError(f"{self.kind} name {name!r} registered twice")
        self._entries[name] = cls
        return cls

    def _load(self) -> None:
        if self._loaded:
            return
        pkg = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name not in self.skip and not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")
        self._loaded = True

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load()
        return sorted(self._entries)

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
