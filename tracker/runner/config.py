"""Sweep configs: a TOML file describing what ``tracker sweep CONFIG`` runs, validated.

Every problem is one line naming the file and the key (``sweep.toml: executor.workers:
expected a positive integer, got 'two'``); all of them are reported at once. Relative paths
are relative to the config file's folder, so a config and its stores can move together. The
keys (every one optional except ``series``)::

    [[series]]                      # one table per series, or per family of series
    hub = "EleutherAI/pythia-{size}-seed{seed}"   # or folder = "runs/{size}-seed{seed}"
    sizes = ["70m", "160m"]          # a family: one series per size x seed
    seeds = [1, 2]
    revisions = ["step1000"]         # hub only: just these revisions
    cache_dir = "~/.cache/huggingface/hub"
    online = false                   # list and download from the hub even with cache_dir
    tokens_per_step = 2097152
    pattern = "ckpt_*"               # folder only: glob of checkpoint folders
    name = "pythia-{size}-seed{seed}"  # store file name (default: from hub/folder)
    store = "out/x.h5"               # this series' store (default: store.dir/NAME.h5)

    [steps]   select = "log:30"  or  list = [0, 512, 1000]  (increasing, no repeats)
    [probes]  names = ["induction"], text_dataset = "...", [probes.config.induction] n_seqs = 80
    [detect]  enabled = true, axis = "log_step", window = 0.25, fdr = 0.05
    [store]   dir = "stores"
    [wandb]   enabled = false, project, group, mode, dir, heatmaps
    [executor] kind = "sequential" | "processes" | "ray", workers, device, dtype,
               batch_size, retries, address, cpus_per_task, gpus_per_task
    [disk]    evict = false   (delete a processed checkpoint's download from the HF cache)
    [lock]    stale_after = 3600   (seconds without a heartbeat before a lock is stale)
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from tracker.errors import TrackerError
from tracker.runner.spec import (
    EXECUTORS,
    ExecutorConfig,
    SeriesSpec,
    SweepConfig,
    WandbConfig,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_SECTIONS = {
    "series": None,
    "steps": {"select", "list"},
    "probes": {"names", "text_dataset", "config"},
    "detect": {"enabled", "axis", "window", "fdr"},
    "store": {"dir"},
    "wandb": {"enabled", "project", "group", "mode", "dir", "heatmaps"},
    "executor": {"kind", "workers", "device", "dtype", "batch_size", "retries", "address",
                 "cpus_per_task", "gpus_per_task"},
    "disk": {"evict"},
    "lock": {"stale_after"},
}
_SERIES_KEYS = {"hub", "folder", "sizes", "seeds", "revisions", "cache_dir", "online",
                "tokens_per_step", "pattern", "name", "store"}


class ConfigError(TrackerError):
    """A sweep config is malformed; the message has one line per problem, naming the key."""


class _Reader:
    """Typed access to a parsed TOML table that collects one error line per bad key."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.errors: list[str] = []

    def error(self, key: str, message: str) -> None:
        self.errors.append(f"{self.origin}: {key}: {message}")

    def get(self, table: dict[str, Any], key: str, where: str, check: Callable[[Any], bool],
            expected: str, default: Any = None) -> Any:
        if key not in table:
            return default
        value = table[key]
        if not check(value):
            self.error(f"{where}{key}", f"expected {expected}, got {value!r}")
            return default
        return value

    def unknown(self, table: dict[str, Any], known: set[str], where: str) -> None:
        for key in sorted(set(table) - known):
            self.error(f"{where}{key}", f"unknown key (known: {', '.join(sorted(known))})")


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _is_pos_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _is_nonneg_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, (str, int)) for x in v)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _path(base: Path, value: str | None) -> str | None:
    if value is None:
        return None
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else base / path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "series"


def load_config(path: str | os.PathLike[str]) -> SweepConfig:
    """Read and validate a sweep config.

    Raises:
        ConfigError: Listing every problem, one line each, naming the key.
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the sweep config ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from exc
    return parse_config(data, file)


def parse_config(data: dict[str, Any], file: Path) -> SweepConfig:
    """Validate parsed TOML (``file`` names it in errors and anchors relative paths)."""
    r = _Reader(str(file))
    base = file.resolve().parent
    r.unknown(data, set(_SECTIONS), "")
    tables = {}
    for name in _SECTIONS:
        if name == "series":
            continue
        value = data.get(name, {})
        if not isinstance(value, dict):
            r.error(name, "expected a table")
            value = {}
        known = _SECTIONS[name]
        assert known is not None
        r.unknown(value, known, f"{name}.")
        tables[name] = value
    store_dir = _path(base, r.get(tables["store"], "dir", "store.", _is_str, "a folder path"))
    series = _read_series(r, data.get("series"), base, store_dir)
    steps = _read_steps(r, tables["steps"])
    names, configs, text = _read_probes(r, tables["probes"], base)
    detect, detect_options = _read_detect(r, tables["detect"])
    wandb = _read_wandb(r, tables["wandb"], base)
    executor = _read_executor(r, tables["executor"])
    evict = r.get(tables["disk"], "evict", "disk.", _is_bool, "true or false", False)
    stale = r.get(tables["lock"], "stale_after", "lock.", lambda v: _is_number(v) and v > 0,
                  "a positive number of seconds", 3600.0)
    if r.errors:
        raise ConfigError("\n".join(r.errors))
    return SweepConfig(path=file, series=tuple(series), steps=steps, probe_names=names,
                       probe_configs=configs, text_dataset=text, detect=detect,
                       detect_options=detect_options, wandb=wandb, executor=executor,
                       evict=evict, stale_after=float(stale))


def expand_family(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Expand a ``[[series]]`` entry with ``sizes``/``seeds`` into one entry per combination."""
    sizes = entry.get("sizes") or [None]
    seeds = entry.get("seeds") or [None]
    out = []
    for size, seed in itertools.product(sizes, seeds):
        fill = {"size": "" if size is None else str(size),
                "seed": "" if seed is None else str(seed)}
        one = {k: v for k, v in entry.items() if k not in ("sizes", "seeds")}
        for key in ("hub", "folder", "name", "store", "cache_dir"):
            if isinstance(one.get(key), str):
                one[key] = one[key].format_map(fill)
        out.append(one)
    return out



def _read_series(r: _Reader, raw: Any, base: Path, store_dir: str | None) -> list[SeriesSpec]:
    if raw is None:
        r.error("series", "missing: add at least one [[series]] table with hub= or folder=")
        return []
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        r.error("series", "expected [[series]] tables")
        return []
    out: list[SeriesSpec] = []
    for i, entry in enumerate(raw):
        where = f"series[{i}]."
        r.unknown(entry, _SERIES_KEYS, where)
        if ("hub" in entry) == ("folder" in entry):
            r.error(f"series[{i}]", "give exactly one of hub= or folder=")
            continue
        kind: Literal["hub", "folder"] = "hub" if "hub" in entry else "folder"
        if not _is_str(entry[kind]):
            r.error(f"{where}{kind}", f"expected a non-empty string, got {entry[kind]!r}")
            continue
        for axis in ("sizes", "seeds"):
            placeholder = "{" + axis[:-1] + "}"
            if axis in entry:
                if not _is_str_list(entry[axis]):
                    r.error(f"{where}{axis}", f"expected a non-empty list, got {entry[axis]!r}")
                    entry = {k: v for k, v in entry.items() if k != axis}
                elif placeholder not in entry[kind]:
                    r.error(f"{where}{axis}", f"{kind} has no {placeholder} placeholder")
            elif placeholder in entry[kind]:
                r.error(f"{where}{kind}", f"uses {placeholder} but {axis} is not given")
        checks: list[tuple[str, Callable[[Any], bool], str]] = [
            ("revisions", _is_str_list, "a non-empty list of revision names"),
            ("cache_dir", _is_str, "a folder path"), ("online", _is_bool, "true or false"),
            ("tokens_per_step", _is_pos_int, "a positive integer"),
            ("pattern", _is_str, "a glob"), ("name", _is_str, "a name"),
            ("store", _is_str, "a path ending in .h5")]
        for key, check, expected in checks:
            r.get(entry, key, where, check, expected)
        if kind == "folder" and "revisions" in entry:
            r.error(f"{where}revisions", "only hub series have revisions (folders: pattern=)")
        if kind == "hub" and "pattern" in entry:
            r.error(f"{where}pattern", "only folder series have a pattern (hub: revisions=)")
        try:
            family = expand_family(entry)
        except (KeyError, ValueError, IndexError) as exc:
            r.error(where.rstrip("."), f"bad placeholder {exc} (use {{size}} and {{seed}})")
            continue
        for one in family:
            location = str(one[kind])
            if kind == "folder":
                location = str(_path(base, location))
            name = _slug(str(one.get("name") or location.rstrip("/").split("/")[-1]))
            store = _path(base, one.get("store")) if _is_str(one.get("store")) else None
            if store is None:
                if store_dir is None:
                    r.error(f"{where}store", "no store: give store= here or [store] dir=")
                    continue
                store = str(Path(store_dir) / f"{name}.h5")
            revisions = one.get("revisions") if _is_str_list(one.get("revisions")) else None
            out.append(SeriesSpec(
                name=name, kind=kind, location=location, store=Path(store),
                revisions=None if revisions is None else tuple(str(v) for v in revisions),
                cache_dir=_path(base, one["cache_dir"]) if _is_str(one.get("cache_dir")) else None,
                online=bool(one.get("online", False)),
                tokens_per_step=one.get("tokens_per_step") if _is_pos_int(
                    one.get("tokens_per_step")) else None,
                pattern=one.get("pattern") if _is_str(one.get("pattern")) else None))
    stores: dict[Path, str] = {}
    names: set[str] = set()
    for spec in out:
        if spec.name in names:
            r.error("series", f"two series are named {spec.name!r}; give each its own name=")
        names.add(spec.name)
        if spec.store in stores:
            r.error("series", f"{spec.name} and {stores[spec.store]} share the store "
                              f"{spec.store}; give each its own name= or store=")
        stores[spec.store] = spec.name
    return out


def _read_steps(r: _Reader, table: dict[str, Any]) -> str | None:
    if "select" in table and "list" in table:
        r.error("steps", "give select= or list=, not both")
        return None
    if "list" in table:
        steps = table["list"]
        if not isinstance(steps, list) or not steps or not all(_is_nonneg_int(s) for s in steps):
            r.error("steps.list", f"expected a list of step numbers, got {steps!r}")
            return None
        for a, b in zip(steps, steps[1:], strict=False):
            if b == a:
                r.error("steps.list", f"step {b} is listed twice")
                return None
            if b < a:
                r.error("steps.list", f"steps must increase: {b} comes after {a}")
                return None
        return ",".join(str(s) for s in steps)
    select = r.get(table, "select", "steps.", _is_str, "a selection such as log:30 or every:2")
    if select is not None:
        from tracker.sources import select_steps

        try:
            select_steps([0, 1, 2], select)
        except TrackerError as exc:
            if "not in the series" not in str(exc):
                r.error("steps.select", str(exc).replace("--steps ", ""))
    return select


def _read_probes(r: _Reader, table: dict[str, Any], base: Path
                 ) -> tuple[tuple[str, ...] | None, dict[str, dict[str, Any]], str | None]:
    from tracker.probes import probe_class, probe_names

    names = r.get(table, "names", "probes.", lambda v: _is_str_list(v) and all(
        isinstance(x, str) for x in v), "a non-empty list of probe names")
    known = set(probe_names())
    for name in names or []:
        if name not in known:
            r.error("probes.names", f"unknown probe {name!r} (known: {', '.join(sorted(known))})")
    configs = r.get(table, "config", "probes.", lambda v: isinstance(v, dict), "a table") or {}
    clean: dict[str, dict[str, Any]] = {}
    for probe, fields in configs.items():
        where = f"probes.config.{probe}"
        if probe not in known:
            r.error(where, f"unknown probe {probe!r}")
            continue
        if not isinstance(fields, dict):
            r.error(where, "expected a table of config fields")
            continue
        cls = probe_class(probe)
        known_fields = cls.Config.__dataclass_fields__
        for key, value in fields.items():
            if key not in known_fields:
                r.error(f"{where}.{key}", f"probe {probe!r} has no config field {key!r}")
            elif not _fits(known_fields[key].default, value):
                r.error(f"{where}.{key}", f"expected {type(known_fields[key].default).__name__}"
                                          f" like the default, got {value!r}")
        try:
            cls(**fields)
        except (TypeError, ValueError, TrackerError) as exc:
            if not r.errors or not r.errors[-1].startswith(f"{r.origin}: {where}."):
                r.error(where, str(exc).splitlines()[0])
        clean[probe] = dict(fields)
    text = _path(base, r.get(table, "text_dataset", "probes.", _is_str, "a path"))
    if text is not None and not Path(text).exists():
        r.error("probes.text_dataset", f"{text}: no such file or folder")
    return (tuple(names) if names else None), clean, text


def _fits(default: Any, value: Any) -> bool:
    """Whether a config value has the type of the field's default (ints pass for floats)."""
    if default is None or isinstance(default, type(dataclasses.MISSING)):
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, list)
    return isinstance(value, type(default))


def _read_detect(r: _Reader, table: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    enabled = r.get(table, "enabled", "detect.", _is_bool, "true or false", True)
    axes = ("log_step", "tokens", "index")
    options = {
        "axis": r.get(table, "axis", "detect.", lambda v: v in axes, " or ".join(axes),
                      "log_step"),
        "window": r.get(table, "window", "detect.", lambda v: _is_number(v) and v > 0,
                        "a positive number of decades", 0.25),
        "fdr": r.get(table, "fdr", "detect.", lambda v: _is_number(v) and 0 < v < 1,
                     "a rate between 0 and 1", 0.05),
    }
    return bool(enabled), options


def _read_wandb(r: _Reader, table: dict[str, Any], base: Path) -> WandbConfig:
    modes = ("online", "offline", "disabled")
    return WandbConfig(
        enabled=r.get(table, "enabled", "wandb.", _is_bool, "true or false", False),
        project=r.get(table, "project", "wandb.", _is_str, "a project name", "tracker"),
        group=r.get(table, "group", "wandb.", _is_str, "a group name"),
        mode=r.get(table, "mode", "wandb.", lambda v: v in modes, " or ".join(modes)),
        dir=_path(base, r.get(table, "dir", "wandb.", _is_str, "a folder path")),
        heatmaps=r.get(table, "heatmaps", "wandb.", _is_bool, "true or false", True),
    )


def _read_executor(r: _Reader, table: dict[str, Any]) -> ExecutorConfig:
    w = "executor."
    kind = r.get(table, "kind", w, lambda v: v in EXECUTORS, " or ".join(EXECUTORS),
                 "sequential")
    dtype = r.get(table, "dtype", w, _is_str, "a dtype name", "float32")
    from tracker.sources.loading import parse_dtype

    try:
        parse_dtype(dtype)
    except TrackerError as exc:
        r.error("executor.dtype", str(exc))
    device = r.get(table, "device", w, lambda v: isinstance(v, str) and re.fullmatch(
        r"auto|cpu|cuda(:\d+)?|mps", v) is not None, "auto, cpu, cuda or cuda:N", "auto")
    return ExecutorConfig(
        kind=kind,
        workers=r.get(table, "workers", w, _is_pos_int, "a positive integer"),
        device=device,
        dtype=dtype,
        batch_size=r.get(table, "batch_size", w, _is_pos_int, "a positive integer", 64),
        retries=r.get(table, "retries", w, _is_nonneg_int, "a non-negative integer", 2),
        address=r.get(table, "address", w, _is_str, "a Ray address such as auto"),
        cpus_per_task=float(r.get(table, "cpus_per_task", w, _is_number,
                                  "a non-negative number", 1.0)),
        gpus_per_task=r.get(table, "gpus_per_task", w, _is_number, "a non-negative number"),
    )
