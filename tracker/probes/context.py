"""Per-checkpoint context shared by all probes.

It holds the model, its adapter, and forward passes memoised by input, so probes that share
inputs share one pass.
"""

from __future__ import annotations

import hashlib
import json
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


class InputCache:
    """Probe inputs kept across the checkpoints of one series, so they are built once.

    What a probe feeds the model (prompts, task pairs, documents cut to length, random token
    sequences) depends on the tokenizer, the model's configuration (context length, special
    tokens, vocabulary), the device, the text sources handed to the probes, and the probe's
    config (which is in every memo key), never on the weights. Building them again at every
    checkpoint re-tokenized thousands of words per step. A context bound to the cache
    (:meth:`ProbeContext.share_inputs`) is served only while all of those are the ones the
    cached values were built with; a context that differs in any of them empties it first.
    """

    def __init__(self) -> None:
        self._owner: tuple[Any, ...] | None = None
        self.values: dict[str, Any] = {}

    def bind(self, owner: tuple[Any, ...]) -> dict[str, Any]:
        """Return the values built for ``owner`` (compared item by item by identity or equality)."""
        if self._owner is None or len(self._owner) != len(owner) or not all(
                a is b or (isinstance(a, str) and a == b)
                for a, b in zip(self._owner, owner, strict=True)):
            self._owner, self.values = owner, {}
        return self.values

    def clear(self) -> None:
        """Forget every value (a new series starts)."""
        self._owner, self.values = None, {}


def _config_signature(model: Any) -> str | None:
    """Return the model's configuration as JSON, less the fields naming a file or version."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        return None
    fields = {k: v for k, v in config.to_dict().items()
              if not k.startswith("_") and k != "transformers_version"}
    return json.dumps(fields, sort_keys=True, default=str)


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
    # Which probes declared each activation of each input, so a cached activation is dropped
    # once they have all run (the patterns go when the last pattern probe is done even while
    # a later probe still reads the residual streams of the same pass).
    _owners: dict[str, dict[Capture, set[str]]] = field(default_factory=dict, init=False,
                                                         repr=False)
    #: Name of the probe currently declaring or running (set by the runner).
    active_probe: str = ""
    _cache: dict[str, tuple[frozenset[Capture], HookedOutput]] = field(
        default_factory=dict, init=False, repr=False
    )
    scratch: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _shared: dict[str, Any] | None = field(default=None, init=False, repr=False)

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
        names = check_capture(capture)
        owners = self._owners.setdefault(key, {})
        for name in names:
            owners.setdefault(name, set()).add(self.active_probe)

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
        # What was declared for these tokens by probes that have not run yet rides along.
        pending = frozenset(n for n, readers in self._owners.get(key, {}).items() if readers)
        wanted = check_capture(capture) | pending
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
        merged = HookedOutput()
        total = tokens.shape[0]
        for start in range(0, total, self.batch_size):
            part = self.adapter.forward(tokens[start : start + self.batch_size], wanted,
                                        logits="logits" in wanted)
            self.forward_count += 1
            if start == 0 and self.batch_size >= total:
                return part
            # Chunks are copied into outputs of the full batch as they come, so the pass
            # holds one chunk beyond what it returns. Logits are batch-first; every
            # activation is layer-first then batch.
            for name in wanted:
                value = part.require(name)
                axis = 0 if name == "logits" else 1
                if start == 0:
                    shape = list(value.shape)
                    shape[axis] = total
                    setattr(merged, name, value.new_empty(shape))
                merged.require(name).narrow(axis, start, value.shape[axis]).copy_(value)
            del part
        return merged

    def share_inputs(self, cache: InputCache) -> None:
        """Take memoised inputs from ``cache`` and leave the ones built here in it.

        Call after the text sources are placed in :attr:`scratch`: they are part of what the
        cached values must have been built with. A model without a configuration shares
        nothing.
        """
        signature = _config_signature(self.model)
        if signature is None:
            return
        sources = tuple(v for _, v in sorted(self.scratch.items()))
        self._shared = cache.bind((self.tokenizer, signature, str(self.device), *sources))

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """Build an input once per checkpoint, or once per series with :meth:`share_inputs`.

        ``build`` must depend only on the tokenizer, the model's configuration, the device,
        the text sources in :attr:`scratch` and what ``key`` names (the probe's config), not
        on the weights; the value is shared, so callers must not modify it.
        """
        if key not in self.scratch:
            shared = self._shared
            if shared is not None and key in shared:
                self.scratch[key] = shared[key]
            else:
                self.scratch[key] = build()
                if shared is not None:
                    shared[key] = self.scratch[key]
        value: T = self.scratch[key]
        return value

    def release(self, probe: str) -> None:
        """Mark ``probe`` done; drop cached activations no probe still waiting has declared.

        Activations of a large model (ICL logits over a 50k vocabulary, patterns of long
        inputs) take gigabytes, so they must not outlive the probes that need them; each
        activation of a pass goes on its own, as soon as its last declared reader is done.
        """
        for key in list(self._cache):
            captured, out = self._cache[key]
            owners = self._owners.get(key, {})
            kept = set()
            for name in captured:
                readers = owners.get(name, set())
                readers.discard(probe)
                if readers:
                    kept.add(name)
                else:
                    setattr(out, name, None)
            if kept:
                self._cache[key] = (frozenset(kept), out)
            else:
                del self._cache[key]
