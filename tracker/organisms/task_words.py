"""The task word lists (``data/tasks/*.json``) that both the corpus and the probes use.

The corpus must speak the probes' vocabulary: the same names, ordinal sequences and year
template. Reading the very files the probes read keeps the two from drifting apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tracker.datafiles import data_dir
from tracker.errors import TrackerError


class TaskDataError(TrackerError):
    """A task file is missing or malformed."""


@dataclass(frozen=True)
class OrdinalSequence:
    """One ordinal sequence (days, months, numbers, ...).

    Attributes:
        name: Task name in ``succession.json``.
        items: The sequence in order, without leading spaces.
        cyclic: Whether the last item's successor is the first.
    """

    name: str
    items: tuple[str, ...]
    cyclic: bool


@dataclass(frozen=True)
class TaskWords:
    """Everything the corpus and tokenizer need from the task files.

    Attributes:
        succession: Ordinal sequences by name.
        succession_templates: Running-text frames for a run of items (``{SEQ}``).
        names: IOI names.
        places: IOI places.
        objects: IOI objects.
        ioi_templates: IOI prompt templates (``{A}``, ``{B}``, ``{PLACE}``, ``{S}``, ``{OBJECT}``).
        gt_nouns: Greater-than event nouns.
        centuries: Greater-than centuries (``"17"``).
        gt_template: Greater-than prompt template.
        min_yy: Smallest two-digit start year the probe uses.
        max_yy: Largest two-digit start year the probe uses.
    """

    succession: dict[str, OrdinalSequence]
    succession_templates: tuple[str, ...]
    names: tuple[str, ...]
    places: tuple[str, ...]
    objects: tuple[str, ...]
    ioi_templates: tuple[str, ...]
    gt_nouns: tuple[str, ...]
    centuries: tuple[str, ...]
    gt_template: str
    min_yy: int
    max_yy: int

    def single_token_words(self) -> list[str]:
        """Return every string the probes expect to be one token, as they tokenize it.

        Words carry a leading space (`` Monday``); the two-digit year halves ``00``..``99``
        carry none because they follow a century token directly.
        """
        words: set[str] = set()
        for task in self.succession.values():
            words.update(" " + item for item in task.items)
        for group in (self.names, self.places, self.objects, self.gt_nouns, self.centuries):
            words.update(" " + w for w in group)
        words.update(f"{yy:02d}" for yy in range(100))
        return sorted(words)


    def openers(self) -> list[str]:
        """Return the first words of the prompt templates, which probes tokenize unspaced."""
        templates = (*self.ioi_templates, self.gt_template, *self.succession_templates)
        firsts = {re.split(r"[\s,:;.]", t, maxsplit=1)[0] for t in templates}
        return sorted(w for w in firsts if w and "{" not in w)


def tasks_dir() -> Path:
    """Return the folder of task files: ``tasks/`` in :func:`tracker.datafiles.data_dir`."""
    return data_dir() / "tasks"


def _read(name: str) -> dict:
    path = tasks_dir() / name
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise TaskDataError(f"{path}: task file not found") from None
    except json.JSONDecodeError as exc:
        raise TaskDataError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None


@lru_cache(maxsize=4)
def _load(folder: str) -> TaskWords:
    succ = _read("succession.json")
    ioi = _read("ioi.json")
    gt = _read("greater_than.json")
    try:
        succession = {
            name: OrdinalSequence(name, tuple(spec["items"]), bool(spec.get("cyclic", False)))
            for name, spec in succ["tasks"].items()
        }
        return TaskWords(
            succession=succession,
            succession_templates=tuple(succ.get("text_templates", ("{SEQ}",))),
            names=tuple(ioi["names"]),
            places=tuple(ioi["places"]),
            objects=tuple(ioi["objects"]),
            ioi_templates=tuple(ioi["templates"]),
            gt_nouns=tuple(gt["nouns"]),
            centuries=tuple(gt["centuries"]),
            gt_template=str(gt["template"]),
            min_yy=int(gt["min_yy"]),
            max_yy=int(gt["max_yy"]),
        )
    except (KeyError, TypeError) as exc:
        raise TaskDataError(f"{folder}: task files lack field {exc}") from None


def load_task_words() -> TaskWords:
    """Load and cache the task words from :func:`tasks_dir`.

    Raises:
        TaskDataError: When a file is missing or lacks a field.
    """
    return _load(str(tasks_dir()))
