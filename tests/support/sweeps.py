"""Sweep configs over tiny hub-layout caches, for the scheduled-sweep and fault tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.builders import PYTHIA_REPO

#: A cheap induction probe: a handful of short sequences, few bootstrap draws.
FAST_INDUCTION = {"n_seqs": 4, "seq_len": 12, "n_bootstrap": 10}
ROOT = Path(__file__).resolve().parents[2]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(value)


def write_config(path: Path, series: list[dict[str, Any]],
                 sections: dict[str, dict[str, Any]] | None = None) -> Path:
    """Write a sweep config: ``[[series]]`` tables, then ``[section]`` tables (dotted names
    such as ``probes.config.induction`` allowed)."""
    lines: list[str] = []
    for entry in series:
        lines.append("[[series]]")
        lines += [f"{k} = {_toml(v)}" for k, v in entry.items()]
    for name, table in (sections or {}).items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def hub_config(path: Path, cache: Path, store_dir: Path, executor: str = "sequential",
               probes: tuple[str, ...] = ("induction",), detect: bool = False,
               workers: int = 2, **extra: dict[str, Any]) -> Path:
    """A config sweeping the tiny Pythia cache with the fast induction probe."""
    sections: dict[str, dict[str, Any]] = {
        "store": {"dir": str(store_dir)},
        "probes": {"names": list(probes)},
        "probes.config.induction": dict(FAST_INDUCTION),
        "detect": {"enabled": detect},
        "executor": {"kind": executor, "workers": workers},
    }
    for key, table in extra.items():
        sections.setdefault(key, {}).update(table)
    return write_config(path, [{"hub": PYTHIA_REPO, "cache_dir": str(cache)}], sections)


def tracker_cmd(*args: str) -> list[str]:
    """Command line of the tracker CLI run from this checkout."""
    return [sys.executable, "-m", "tracker.cli.main", *args]


def cli_env() -> dict[str, str]:
    """Environment for CLI subprocesses: this checkout first on the path, offline, 1 thread."""
    return os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
                         "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def run_cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run the tracker CLI to completion."""
    return subprocess.run(tracker_cmd(*args), capture_output=True, text=True, timeout=timeout,
                          env=env or cli_env(), cwd=ROOT)


def store_values(store: Path) -> dict[str, np.ndarray]:
    """Every dataset of a consolidated store's checkpoints and results, by HDF5 path."""
    import h5py

    out: dict[str, np.ndarray] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and name.split("/")[0] in ("checkpoints", "results"):
            out[name] = np.asarray(obj[()])

    with h5py.File(store, "r") as f:
        f.visititems(visit)
    return out


def assert_same_values(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    """Value-for-value equality (NaN equal to NaN)."""
    assert sorted(a) == sorted(b)
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), name
