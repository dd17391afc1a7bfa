"""Text datasets for probes that read running text (the in-context-learning probe).

A probe config cannot hold a dataset object (configs are hashed JSON), so it names one by a
string, resolved at run time in this order:

1. ``ctx.scratch["text_datasets"][name]``: a source the runner (or a test) placed in the
   checkpoint context; ``ctx.scratch["text_dataset"]`` also answers the name ``"default"``.
2. A factory registered with :func:`register_text_dataset` (called once, then cached).
3. A path on disk: a folder written by ``Dataset.save_to_disk`` (``datasets.load_from_disk``;
   of a ``DatasetDict`` the ``validation``, ``test`` or first split is used), or a ``.txt``
   (one document per line), ``.json``/``.jsonl``, ``.parquet`` or ``.csv`` file.

A *source* is a ``datasets.Dataset``, a list of strings, a list of token-id lists, or a
zero-argument callable returning one of those. Rows with an ``input_ids`` or ``tokens``
column are used as token ids (pre-tokenized, e.g. Pythia's own Pile tokens); otherwise the
text column is tokenized. The name is part of the probe config, so results computed on
different data must use different names. A path alone does not say what it holds, so a
config naming a path also carries the content digest of what is there
(:func:`content_digest`): rewriting the data in place changes the result key, and a digest
that no longer matches the path is an error rather than a silent mix of old and new results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self, cast

from tracker.errors import UnknownNameError
from tracker.probes.base import ConfigT, Probe
from tracker.probes.context import ProbeContext

_FACTORIES: dict[str, Callable[[], Any]] = {}
_LOADED: dict[str, Any] = {}
_LOADED_PATHS: dict[str, tuple[str, Any]] = {}  # path -> (digest checked, "" if none; source)
_TOKEN_COLUMNS = ("input_ids", "tokens")


def register_text_dataset(name: str, factory: Callable[[], Any]) -> None:
    """Register a zero-argument factory returning a text source under ``name``."""
    _FACTORIES[name] = factory
    _LOADED.pop(name, None)


def text_dataset_names() -> list[str]:
    """Names registered with :func:`register_text_dataset`."""
    return sorted(_FACTORIES)


def content_digest(path: str | Path) -> str:
    """Return a BLAKE2b digest (16 hex characters) of a file, or of every file in a folder.

    A folder's files enter in sorted order with their relative names, so the digest changes
    when any file is added, removed, renamed or rewritten, and not when the folder moves.
    """
    root = Path(path).expanduser()
    files = sorted(f for f in root.rglob("*") if f.is_file()) if root.is_dir() else [root]
    digest = hashlib.blake2b(digest_size=8)
    for file in files:
        digest.update(file.relative_to(root).as_posix().encode() if root.is_dir() else b"")
        digest.update(b"\0")
        with file.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _load_path(path: Path) -> Any:
    import datasets

    if path.is_dir():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            split = next((s for s in ("validation", "test") if s in loaded), next(iter(loaded)))
            loaded = loaded[split]
        return loaded
    if path.suffix == ".txt":
        lines = path.read_text(encoding="utf-8").splitlines()
        return [line for line in lines if line.strip()]
    kinds = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}
    if path.suffix not in kinds:
        raise UnknownNameError(f"text dataset {path}: unsupported file type {path.suffix!r}")
    return datasets.load_dataset(kinds[path.suffix], data_files=str(path), split="train")


def resolve_text_dataset(ctx: ProbeContext, name: str, digest: str = "") -> Any:
    """Return the text source named ``name`` (see the module docstring for the order).

    Args:
        ctx: The checkpoint context (its scratch may supply the source).
        name: Dataset name or path.
        digest: For a path, the :func:`content_digest` the data must have ("" skips the check).

    Raises:
        UnknownNameError: If the name is in none of the places searched.
        ValueError: If a path's content no longer has ``digest``.
    """
    supplied = ctx.scratch.get("text_datasets") or {}
    source: Any
    if name in supplied:
        source = supplied[name]
    elif name == "default" and "text_dataset" in ctx.scratch:
        source = ctx.scratch["text_dataset"]
    elif name in _FACTORIES:
        if name not in _LOADED:
            _LOADED[name] = _FACTORIES[name]()
        source = _LOADED[name]
    elif name and Path(name).expanduser().exists():
        key = str(Path(name).expanduser().resolve())
        known_digest, source = _LOADED_PATHS.get(key, (None, None))
        if known_digest is None or (digest and known_digest != digest):
            found = content_digest(key) if digest else ""
            if found != digest:
                raise ValueError(f"text dataset {key}: content digest {found} differs from "
                                 f"{digest} named in the probe config (the data changed)")
            source = _load_path(Path(key))
            _LOADED_PATHS[key] = (found, source)
    else:
        raise UnknownNameError(
            f"text dataset {name!r} not found: supply it as ctx.scratch['text_datasets']"
            f"[{name!r}] (or ctx.scratch['text_dataset'] for 'default'), register it with "
            f"tracker.probes.text_data.register_text_dataset, or give a path on disk "
            f"(registered: {', '.join(text_dataset_names()) or 'none'})"
        )
    if callable(source) and not hasattr(source, "column_names"):
        source = source()
    return source


def iter_token_docs(
    source: Any, tokenizer: Any, text_column: str = "text"
) -> Iterator[list[int]]:
    """Yield each document of a source as a list of token ids (no special tokens added)."""
    columns = getattr(source, "column_names", None)
    token_column = next((c for c in _TOKEN_COLUMNS if columns and c in columns), None)
    for row in source:
        if token_column is None and tokenizer is None and not isinstance(row, (list, tuple)):
            raise ValueError("a text dataset without token ids needs a tokenizer")
        if token_column is not None:
            yield [int(t) for t in row[token_column]]
        elif isinstance(row, str):
            yield list(tokenizer.encode(row, add_special_tokens=False))
        elif isinstance(row, dict):
            yield list(tokenizer.encode(row[text_column], add_special_tokens=False))
        else:
            yield [int(t) for t in row]


class TextProbe(Probe[ConfigT]):
    """A probe reading running text named by its config's ``dataset``.

    ``dataset`` is a registered name or a path; ``dataset_digest`` is the content digest of
    that path, so a changed file is a new result key. Subclasses inherit how a caller hands
    over a dataset (:meth:`with_text`) and whether it can be found (:meth:`has_data`).
    """

    def with_text(self, path: Path) -> Self:
        """Read the text at ``path``, keyed by its content digest; a named dataset wins."""
        # The configs of text probes declare ``dataset`` themselves, each with its default.
        if cast(Any, self.config).dataset != cast(Any, self.Config()).dataset:
            return self
        return type(self)(self.config, dataset=str(Path(path).resolve()),
                          dataset_digest=content_digest(path))

    def has_data(self) -> bool:
        """Whether the configured dataset is registered or is a path that exists."""
        name: str = cast(Any, self.config).dataset
        return name in text_dataset_names() or Path(name).expanduser().exists()
