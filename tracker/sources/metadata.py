"""Series metadata: facts about a checkpoint series that its checkpoints do not carry.

Any local series may carry a ``tracker_series.json`` file: in a folder of checkpoints, at the
folder's top; in a hub-layout cache, in the repo's folder (``models--org--name/``), beside
``refs/`` and ``snapshots/``. Every key is optional:

- ``tokens_per_step`` (int): tokens per optimiser step, so checkpoints map to tokens seen;
- ``series_id`` (str): the id results are stored under (a folder's name otherwise).

Writers may add keys of their own (the organism suite records its training recipe and
timings); readers ignore what they do not know. The file is written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tracker.errors import SourceError

#: File name of series metadata.
SERIES_META = "tracker_series.json"


def read_series_meta(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the metadata of the series whose folder is ``folder`` ({} when it has none).

    Raises:
        SourceError: If the file exists but is not a JSON object.
    """
    path = Path(folder) / SERIES_META
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SourceError(f"{path}: unreadable series metadata ({exc})") from exc
    if not isinstance(meta, dict):
        raise SourceError(f"{path}: series metadata must be a JSON object")
    return meta


def write_series_meta(folder: str | os.PathLike[str], meta: Mapping[str, Any]) -> Path:
    """Write a series' metadata atomically (a kill leaves the old file or the new one)."""
    path = Path(folder) / SERIES_META
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dict(meta), indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path
