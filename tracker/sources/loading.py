"""Loading Hugging Face models and tokenizers with errors that name the checkpoint."""

from __future__ import annotations

import logging
import os
from typing import Any

import torch

from tracker.errors import SourceError

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float64": torch.float64,
}


def parse_dtype(name: str | torch.dtype) -> torch.dtype:
    """Turn a dtype name (``float32``, ``bf16``, ...) into a torch dtype."""
    if isinstance(name, torch.dtype):
        return name
    try:
        return _DTYPES[name.lower()]
    except KeyError:
        raise SourceError(f"unknown dtype {name!r}; choose one of {sorted(_DTYPES)}") from None


def load_model_and_tokenizer(
    location: str | os.PathLike[str],
    *,
    what: str,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    load_tokenizer: bool = True,
) -> tuple[Any, Any]:
    """Load a causal LM (eager attention, eval mode) and its tokenizer.

    Args:
        location: Hub repo id or a local folder of ``save_pretrained`` files.
        what: Human-readable name of the checkpoint for error messages.
        revision: Hub revision (ignored for folders).
        cache_dir: Hub cache root.
        local_files_only: Never touch the network.
        device: Torch device.
        dtype: Parameter dtype.
        load_tokenizer: Whether to load the tokenizer too.

    Returns:
        ``(model, tokenizer)``; the tokenizer is None when absent or not requested.

    Raises:
        SourceError: Naming ``what`` and the underlying cause, on any failure to load.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    kwargs: dict[str, Any] = {"cache_dir": cache_dir, "local_files_only": local_files_only}
    if revision is not None:
        kwargs["revision"] = revision
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # keep progress output clean; failures still raise
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(
            str(location), attn_implementation="eager", dtype=dtype, **kwargs
        )
    except Exception as exc:  # noqa: BLE001 - every cause becomes one named line
        raise SourceError(f"{what}: cannot load weights: {_first_line(exc)}") from exc
    finally:
        hf_logging.set_verbosity(previous)
    model.eval()
    model.to(device)
    tokenizer = None
    if load_tokenizer:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(location), **kwargs)
        except Exception as exc:  # noqa: BLE001 - a checkpoint may ship no tokenizer
            logging.getLogger(__name__).debug("%s: no tokenizer (%s)", what, exc)
    return model, tokenizer


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
