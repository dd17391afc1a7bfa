"""Where tracker's shipped files are: the task data folder and the JSON schemas.

Both live at the repository's top level (``data/``, ``schemas/``) and are installed inside the
package as ``tracker._data`` and ``tracker._schemas`` (see ``setup.py``), so they are read
through :mod:`importlib.resources` the same way from an editable install and from a wheel.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from tracker.errors import TrackerError

#: Environment variable that replaces the shipped data folder (same layout: ``tasks/*.json``).
DATA_DIR_ENV = "TRACKER_DATA_DIR"


def _package_folder(package: str, checkout_folder: str) -> Path:
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        # A checkout put on sys.path without installing it (PYTHONPATH=...): nothing maps the
        # top-level folder into the package, so take it from beside the package directly.
        return Path(__file__).resolve().parents[1] / checkout_folder
    # Loaders open files by path (and cache by path string), so the package must be on disk;
    # pip always installs it so, and a zipped install is reported rather than half-working.
    if not isinstance(root, Path):
        raise TrackerError(f"{package} is not installed as files on disk ({root!r})")
    return root


def data_dir() -> Path:
    """Folder of task data files: ``$TRACKER_DATA_DIR`` when set, else the shipped ``data/``."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else _package_folder("tracker._data", "data")


def schema_path(name: str = "store.schema.json") -> Path:
    """Path of a shipped JSON schema (``schemas/<name>`` in the repository)."""
    return _package_folder("tracker._schemas", "schemas") / name
