"""Read a consolidated per-series store: checkpoints, probe variants, metrics, provenance."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tracker.errors import StoreError
from tracker.store.layout import CHECKPOINTS, KIND_SERIES, RESULTS
from tracker.store.shards import check_schema


@dataclass(frozen=True)
class MetricInfo:
    """What a stored metric is.

    Attributes:
        probe: Probe name.
        key: Variant key (``v{version}-{hash}``).
        name: Metric name.
        kind: ``head``, ``layer``, ``scalar`` or ``vector``.
        shape: Shape per step.
        description: One line of meaning.
        higher_is_mechanism: Orientation for emergence, or None.
        threshold: Mechanism threshold, or None.
    """

    probe: str
    key: str
    name: str
    kind: str
    shape: tuple[int, ...]
    description: str
    higher_is_mechanism: bool | None
    threshold: float | None


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
            self._infos: list[MetricInfo] = []
            for probe, group in f.get(RESULTS, {}).items():
                for key, variant in group.items():
                    self._variants[(probe, key)] = {
                        k: _plain(v) for k, v in variant.attrs.items()
                    } | {"present": np.asarray(variant["present"][()], dtype=bool)}
                    for name, dset in variant.items():
                        if name == "present":
                            continue
                        self._metrics[(probe, key, name)] = np.asarray(dset[()])
                        orient = str(dset.attrs.get("higher_is_mechanism", ""))
                        threshold = float(dset.attrs.get("threshold", np.nan))
                        self._infos.append(MetricInfo(
                            probe, key, name, str(dset.attrs["kind"]), tuple(dset.shape[1:]),
                            str(dset.attrs.get("description", "")),
                            None if orient == "" else orient == "true",
                            None if np.isnan(threshold) else threshold,
                        ))

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

    def variants(self) -> list[tuple[str, str]]:
        """Return stored (probe, variant key) pairs."""
        return sorted(self._variants)

    def variant_attrs(self, probe: str, key: str | None = None) -> dict[str, Any]:
        """Attributes of a probe variant (version, config JSON, hash, present mask)."""
        return self._variants[(probe, self.resolve_key(probe, key))]

    def resolve_key(self, probe: str, key: str | None = None) -> str:
        """Pick a probe's variant: the given key, else the one covering the most steps.

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
        # Most steps first; ties broken by the newest probe version, then key order.
        return max(keys, key=lambda k: (int(self._variants[(probe, k)]["present"].sum()),
                                        int(self._variants[(probe, k)]["probe_version"]), k))

    def metric_infos(self, probe: str | None = None) -> list[MetricInfo]:
        """Describe stored metrics (of one probe, or all), for the default variant of each."""
        chosen = {p: self.resolve_key(p) for p, _ in self._variants}
        return [i for i in self._infos if chosen[i.probe] == i.key
                and (probe is None or i.probe == probe)]

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

    def find_metric(self, name: str) -> tuple[str, str]:
        """Find which probe holds a metric name; returns (probe, key).

        Raises:
            StoreError: If no probe or several probes hold it.
        """
        owners = sorted({i.probe for i in self.metric_infos() if i.name == name})
        if not owners:
            raise StoreError(f"{self.path}: no metric {name!r}")
        if len(owners) > 1:
            raise StoreError(f"{self.path}: metric {name!r} is in several probes {owners}")
        return owners[0], self.resolve_key(owners[0])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
