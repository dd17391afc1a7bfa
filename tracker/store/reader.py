"""Read a consolidated per-series store: checkpoints, probe variants, metrics, provenance."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tracker.errors import StoreError
from tracker.metric import Metric
from tracker.store.layout import CHECKPOINTS, KIND_SERIES, RESULTS, STATIC
from tracker.store.shards import check_schema, read_static


def default_variant(candidates: Mapping[str, tuple[int, int]]) -> str:
    """Choose a probe's default variant: the one rule wherever several are stored.

    The variant covering the most steps wins; ties go to the newest probe version, then to the
    last key. The reader, the report and W&B (live or replayed) all use it, so they show the
    same rows.

    Args:
        candidates: Variant key -> (steps it covers, probe version).

    Raises:
        ValueError: If there are no candidates.
    """
    if not candidates:
        raise ValueError("no variants to choose from")
    return max(candidates, key=lambda k: (candidates[k][0], candidates[k][1], k))


class SeriesStore:
    """Read-only view of a consolidated series file, loaded into memory on open.

    Args:
        path: Path of the series file.

    Raises:
        StoreError: If the file is missing, unreadable, not a series store or too new.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise StoreError(f"{self.path}: no such store")
        try:
            handle = h5py.File(self.path, "r")
        except OSError as exc:
            raise StoreError(f"{self.path}: unreadable HDF5 file ({exc})") from exc
        with handle as f:
            check_schema(f.attrs, self.path)
            if str(f.attrs.get("kind", "")) != KIND_SERIES:
                raise StoreError(f"{self.path}: not a series store (kind={f.attrs.get('kind')!r})")
            self.attrs: dict[str, Any] = {k: _plain(v) for k, v in f.attrs.items()}
            ckpt = f[CHECKPOINTS]
            self.steps = np.asarray(ckpt["step"][()], dtype=np.int64)
            self.tokens = np.asarray(ckpt["tokens"][()], dtype=np.int64)
            self.revisions = [_text(x) for x in ckpt["revision"][()]]
            self.checkpoint_hashes = [_text(x) for x in ckpt["checkpoint_hash"][()]]
            self.repeated_weights = np.asarray(ckpt["repeated_weights"][()], dtype=bool)
            self._variants: dict[tuple[str, str], dict[str, Any]] = {}
            self._metrics: dict[tuple[str, str, str], np.ndarray] = {}
            self._infos: list[Metric] = []
            self._static: dict[tuple[str, str], dict[str, np.ndarray]] = {}
            for probe, group in f.get(RESULTS, {}).items():
                for key, variant in group.items():
                    self._variants[(probe, key)] = {
                        k: _plain(v) for k, v in variant.attrs.items()
                    } | {"present": np.asarray(variant["present"][()], dtype=bool)}
                    for name, dset in variant.items():
                        if name == STATIC:
                            self._static[(probe, key)] = read_static(dset)
                            continue
                        if name == "present":
                            continue
                        self._metrics[(probe, key, name)] = np.asarray(dset[()])
                        self._infos.append(Metric.from_attrs(
                            name, dset.attrs, probe=probe, key=key, shape=tuple(dset.shape[1:])))

    @property
    def series_id(self) -> str:
        """Series identifier."""
        return str(self.attrs["series_id"])

    @property
    def tokens_per_step(self) -> int:
        """Tokens per optimiser step."""
        return int(self.attrs["tokens_per_step"])

    @property
    def provenance(self) -> dict[str, Any]:
        """Source facts recorded by the sweep."""
        return json.loads(str(self.attrs.get("provenance_json", "{}")) or "{}")

    def static(self, probe: str, name: str, key: str | None = None) -> np.ndarray:
        """Return a constant of the series a probe stored (e.g. a circuit graph's edge names).

        Raises:
            KeyError: Naming the probe, variant and constant, if it is not stored.
        """
        key = self.resolve_key(probe, key)
        try:
            return self._static[(probe, key)][name]
        except KeyError:
            raise KeyError(f"{self.path}: /results/{probe}/{key} stores no constant "
                           f"{name!r}") from None

    def variants(self) -> list[tuple[str, str]]:
        """Return stored (probe, variant key) pairs."""
        return sorted(self._variants)

    def variant_attrs(self, probe: str, key: str | None = None) -> dict[str, Any]:
        """Attributes of a probe variant (version, config JSON, hash, present mask)."""
        return self._variants[(probe, self.resolve_key(probe, key))]

    def resolve_key(self, probe: str, key: str | None = None) -> str:
        """Pick a probe's variant: the given key, else :func:`default_variant`.

        Raises:
            StoreError: If the probe (or key) is not in the store.
        """
        keys = [k for p, k in self._variants if p == probe]
        if not keys:
            raise StoreError(f"{self.path}: probe {probe!r} not in store")
        if key is not None:
            if key not in keys:
                raise StoreError(f"{self.path}: probe {probe!r} has no variant {key!r}")
            return key
        return default_variant({k: (int(self._variants[(probe, k)]["present"].sum()),
                                    int(self._variants[(probe, k)]["probe_version"]))
                                for k in keys})

    def metric_infos(self, probe: str | None = None, errors: bool = False) -> list[Metric]:
        """Describe stored metrics (of one probe, or all), for the default variant of each.

        Args:
            probe: Only this probe's metrics.
            errors: Include standard-error records (``Metric.error_of``), left out by default.
        """
        chosen = {p: self.resolve_key(p) for p, _ in self._variants}
        return [i for i in self._infos if chosen[i.probe] == i.key
                and (probe is None or i.probe == probe) and (errors or not i.error_of)]

    def standard_error(self, probe: str, name: str, key: str | None = None) -> np.ndarray | None:
        """Return the standard error stored beside a metric (same shape), or None."""
        resolved = self.resolve_key(probe, key)
        for info in self._infos:
            if (info.probe, info.key, info.error_of) == (probe, resolved, name):
                return self._metrics[(probe, resolved, info.name)]
        return None

    def metric(self, probe: str, name: str, key: str | None = None) -> np.ndarray:
        """Return a metric over steps: (n_steps, *shape) float32, NaN where missing.

        Raises:
            StoreError: If the probe or metric is absent.
        """
        resolved = self.resolve_key(probe, key)
        try:
            return self._metrics[(probe, resolved, name)]
        except KeyError:
            raise StoreError(f"{self.path}: probe {probe!r} has no metric {name!r}") from None

    def find_metric(self, spec: str) -> Metric:
        """Find a stored metric (default variant) the way people name one.

        Tried in order: ``name`` or ``probe/name``; ``{name}_score`` (so a kind such as
        ``induction`` finds ``induction_score``); a probe name with a single head metric.

        Raises:
            StoreError: Listing the known metrics when nothing matches, or asking for
                ``probe/name`` when a bare name is in several probes.
        """
        probe, _, name = spec.rpartition("/")
        infos = self.metric_infos()
        for candidate in (name, f"{name}_score"):
            matches = [i for i in infos if i.name == candidate and probe in ("", i.probe)]
            if len(matches) > 1:
                raise StoreError(f"{self.path}: metric {spec!r} is in several probes "
                                 f"{sorted(i.probe for i in matches)}; write PROBE/NAME")
            if matches:
                return matches[0]
        heads = [i for i in infos if not probe and i.probe == name and i.kind == "head"]
        if len(heads) == 1:
            return heads[0]
        known = ", ".join(sorted(f"{i.probe}/{i.name}" for i in infos)) or "none"
        raise StoreError(f"{self.path}: no metric {spec!r} (known: {known})")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
