"""Validate a store file against ``schemas/store.schema.json`` and report violations by path.

The HDF5 tree is dumped to JSON (groups, datasets with dtype and shape, attributes), checked
with ``jsonschema``, then checked in code for rules JSON Schema cannot state (per-step first
axes, kind-specific ranks, step order).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import h5py
import numpy as np

from tracker.datafiles import schema_path
from tracker.errors import StoreError
from tracker.store.layout import SCHEMA_VERSION

_RANKS = {"head": 2, "layer": 1, "scalar": 0, "vector": 1}


def load_schema() -> dict[str, Any]:
    """Load the JSON schema of the store layout."""
    return json.loads(schema_path().read_text())


def dump_tree(node: h5py.Group) -> dict[str, Any]:
    """Dump an HDF5 group to the JSON form the schema describes."""
    out: dict[str, Any] = {"attrs": {k: _json_value(v) for k, v in node.attrs.items()},
                           "groups": {}, "datasets": {}}
    for name, child in node.items():
        if isinstance(child, h5py.Group):
            out["groups"][name] = dump_tree(child)
        else:
            out["datasets"][name] = {
                "dtype": _dtype_name(child.dtype),
                "shape": list(child.shape),
                "attrs": {k: _json_value(v) for k, v in child.attrs.items()},
            }
    return out


def validate_file(path: str | os.PathLike[str]) -> list[str]:
    """Validate a store file; return violations as ``/hdf5/path: message`` lines (empty: valid).

    Raises:
        StoreError: If the file cannot be opened as HDF5.
    """
    import jsonschema

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise StoreError(f"{path}: unreadable HDF5 file ({exc})") from exc
    with handle as f:
        tree = dump_tree(f)
    version = tree["attrs"].get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        return [f"/: schema_version {version} is newer than this tracker's ({SCHEMA_VERSION})"]
    validator = jsonschema.Draft202012Validator(load_schema())
    problems = [f"{_hdf5_path(err.absolute_path)}: {err.message}"
                for err in sorted(validator.iter_errors(tree), key=lambda e: list(e.path))]
    problems.extend(_semantic_problems(tree))
    return problems


def _semantic_problems(tree: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    is_series = tree["attrs"].get("kind") == "series"
    n_steps = None
    ckpt = tree["groups"].get("checkpoints", {}).get("datasets", {})
    if "step" in ckpt:
        n_steps = ckpt["step"]["shape"][0]
        for name, dset in ckpt.items():
            if dset["shape"][:1] != [n_steps]:
                length = dset["shape"][:1]
                problems.append(f"/checkpoints/{name}: length {length} != {n_steps} steps")
    for probe, pgroup in tree["groups"].get("results", {}).get("groups", {}).items():
        for key, variant in pgroup.get("groups", {}).items():
            where = f"/results/{probe}/{key}"
            if not key.endswith(str(variant["attrs"].get("config_hash", ""))):
                problems.append(f"{where}: group name does not end with its config_hash")
            if not key.startswith(f"v{variant['attrs'].get('probe_version')}-"):
                problems.append(f"{where}: group name does not start with its probe_version")
            for name, dset in variant.get("datasets", {}).items():
                shape = dset["shape"]
                if is_series and n_steps is not None and shape[:1] != [n_steps]:
                    problems.append(f"{where}/{name}: first axis {shape[:1]} != {n_steps} steps")
                kind = dset.get("attrs", {}).get("kind")
                rank = len(shape) - (1 if is_series else 0)
                if name != "present" and kind in _RANKS and rank != _RANKS[kind]:
                    problems.append(f"{where}/{name}: kind {kind!r} needs rank {_RANKS[kind]} "
                                    f"per step, got shape {shape}")
    events = tree["groups"].get("events", {}).get("datasets", {})
    lengths = {name: d["shape"][:1] for name, d in events.items()}
    if len({tuple(v) for v in lengths.values()}) > 1:
        problems.append(f"/events: columns differ in length {lengths}")
    return problems


def _hdf5_path(parts: Any) -> str:
    """Turn a JSON path through the dump (groups/x/datasets/y/attrs/z) into ``/x/y@z``.

    A dataset's own fields (dtype, shape) come out as ``/x/y (dtype)``.
    """
    names: list[str] = []
    items = [str(p) for p in parts]
    i = 0
    while i < len(items):
        part = items[i]
        has_next = i + 1 < len(items)
        if part in ("groups", "datasets"):
            if has_next:
                names.append(items[i + 1])
            i += 2
        elif part == "attrs":
            suffix = f"@{items[i + 1]}" if has_next else ""
            return "/" + "/".join(names) + suffix
        else:
            return "/" + "/".join(names) + f" ({part})"
    return "/" + "/".join(names)


def _dtype_name(dtype: np.dtype) -> str:
    if h5py.check_string_dtype(dtype) is not None:
        return "string"
    if dtype.kind == "b":
        return "bool"
    return str(dtype)


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
