"""Per-checkpoint context shared by all probes.

It holds the model, its adapter, and forward passes memoised by input, so probes that share
inputs share one pass.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from tracker.models import ArchitectureAdapter, Capture, HookedOutput, check_capture, get_adapter

T = TypeVar("T")


def _tokens_key(tokens: torch.Tensor) -> str:
    data = tokens.detach().to("cpu", torch.int64).contiguous().numpy()
    return hashlib.sha1(data.tobytes() + str(data.shape).encode()).hexdigest()


def bos_id(adapter: ArchitectureAdapter, tokenizer: Any) -> int | None:
    """Return the BOS token: the tokenizer's, else the model's, else None."""
    bos = getattr(tokenizer, "bos_token_id", None) if tokenizer is not None else None
    return adapter.bos_token_id if bos is None else int(bos)


@dataclass
class ProbeContext:
    """What a probe sees at one checkpoint.

    Attributes:
        model: The Hugging Face model.
        tokenizer: Its tokenizer (may be None).
        step: Training step of the checkpoint.
        adapter: Hooked-forward adapter for the model.
        batch_size: Largest batch one forward pass takes (memory bound).
        forward_count: Number of forward passes actually run (for tests and logs).
        forward_seconds: Wall time spent in those passes (benchmarks split probe time by it).
    """

    model: Any
    tokenizer: Any = None
    step: int = 0
    adapter: ArchitectureAdapter = field(init=False)
    batch_size: int = 64
    forward_count: int = 0
    forward_seconds: float = 0.0
    _declared: dict[str, set[Capture]] = field(default_factory=dict, init=False, repr=False)
    # Which probes declared each input, so a cached pass is dropped once they have all run.
    _owners: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)
    #: Name of the probe currently declaring or running (set by the runner).
    active_probe: str = ""
    _cache: dict[str, tuple[frozenset[Capture], HookedOutput]] = field(
        default_factory=dict, init=False, repr=False
    )
    scratch: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.adapter = get_adapter(self.model)

    @property
    def device(self) -> torch.device:
        """Device of the model."""
        return self.adapter.device

    def declare(self, tokens: torch.Tensor, capture: Iterable[Capture]) -> None:
        """Announce that a probe will ask for ``capture`` on ``tokens``.

        Raises:
            ValueError: Naming an unknown activation.
        """
        key = _tokens_key(tokens)
        self._declared.setdefault(key, set()).update(check_capture(capture))
        self._owners.setdefault(key, set()).add(self.active_probe)

    @torch.no_grad()
    def forward(
        self, tokens: torch.Tensor, capture: Iterable[Capture] = frozenset()
    ) -> HookedOutput:
        """Hooked forward over ``tokens`` (B, T), memoised by token content.

        The pass captures the union of what was declared for these tokens and what is asked
        now, so declared probes share one pass; logits are computed only when ``logits`` is in
        that union. Batches larger than ``batch_size`` run in chunks and are concatenated
        along the batch axis.
        """
        key = _tokens_key(tokens)
        wanted = check_capture(capture) | frozenset(self._declared.get(key, ()))
        cached = self._cache.get(key)
        if cached is not None and wanted <= cached[0]:
            return cached[1]
        if cached is not None:
            wanted = wanted | cached[0]
        start = time.perf_counter()
        out = self._run_chunked(tokens, wanted)
        self.forward_seconds += time.perf_counter() - start
        self._cache[key] = (wanted, out)
        return out

    def _run_chunked(self, tokens: torch.Tensor, wanted: frozenset[Capture]) -> HookedOutput:
        parts = []
        for start in range(0, tokens.shape[0], self.batch_size):
            parts.append(self.adapter.forward(tokens[start : start + self.batch_size], wanted,
                                              logits="logits" in wanted))
            self.forward_count += 1
        if len(parts) == 1:
            return parts[0]
        # Logits are batch-first; every activation is layer-first then batch.
        merged = HookedOutput()
        if "logits" in wanted:
            merged.logits = torch.cat([p.require("logits") for p in parts], dim=0)
        for name in wanted - {"logits"}:
            setattr(merged, name, torch.cat([p.require(name) for p in parts], dim=1))
        return merged

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """Build a value once per checkpoint (inputs or prompts shared by declare and run)."""
        if key not in self.scratch:
            self.scratch[key] = build()
        value: T = self.scratch[key]
        return value

    def release(self, probe: str) -> None:
        """Mark ``probe`` done; drop cached passes no probe still waiting has declared.

        Activations of a large model (ICL logits over a 50k vocabulary, patterns of long
        inputs) take gigabytes, so they must not outlive the probes that need them.
        """
        for key in list(self._cache):
            owners = self._owners.get(key, set())
            owners.discard(probe)
            if not owners:
                del self._cache[key]
