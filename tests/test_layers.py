"""Layers only look down: no package of tracker imports one at its own level or above.

Data flows sources -> models -> probes -> runner -> store -> detect/events -> views -> query,
report, W&B, with the CLI on top. The store and the detectors know nothing of what feeds them
(the runner writes the store; events read it), so they sit low; siblings (the report and W&B,
say) share code only through a module below both. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tracker

#: Level of each top-level module or package of tracker; core modules (level 0) may import
#: each other.
LEVEL: dict[str, float] = {
    "errors": 0, "registry": 0, "identity": 0, "metric": 0, "labels": 0, "datafiles": 0,
    "cores": 0,
    "sources": 1, "models": 1, "store": 1, "detect": 1,
    # Circuits (graph, attribution, search) are model mechanics that the circuit probe uses.
    "circuits": 1.5,
    "probes": 2, "events": 2, "organisms": 2,
    "runner": 3, "views": 3,
    "query": 4, "report": 4, "wandb_logging": 4,
    "cli": 5,
}
ROOT = Path(tracker.__file__).parent


def _imports(path: Path) -> set[str]:
    """Top-level tracker parts a file imports (``tracker.store.shards`` -> ``store``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                 else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "tracker" and len(parts) > 1:
                found.add(parts[1])
    return found


def _part(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


FILES = sorted(p for p in ROOT.rglob("*.py") if _part(p) != "__init__")


def test_every_part_has_a_level() -> None:
    assert {_part(p) for p in FILES} - {"__main__"} <= set(LEVEL)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_look_down(path: Path) -> None:
    me = _part(path)
    if me not in LEVEL:
        return
    upward = [other for other in _imports(path) - {me}
              if LEVEL[other] >= LEVEL[me] and not (LEVEL[me] == LEVEL[other] == 0)]
    assert not upward, f"{path.relative_to(ROOT)} ({me}) imports {upward} at or above its level"


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from tracker.report import plots\n")
    assert _imports(bad) == {"report"}
