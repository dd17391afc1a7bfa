"""Weight content hashes and detection of repeated weights across checkpoints."""

from __future__ import annotations

import hashlib

import numpy as np
import torch


def weights_hash(model: torch.nn.Module) -> str:
    """Hash a model's parameters and persistent buffers by content.

    Names, dtypes, shapes and raw bytes all enter the hash, in sorted name order, so two
    checkpoints hash equal exactly when they hold the same weights. Tied parameters are hashed
    once per name, which is stable for a given architecture.

    Args:
        model: Any torch module.

    Returns:
        Hex BLAKE2b digest (32 hex characters).
    """
    digest = hashlib.blake2b(digest_size=16)
    state = model.state_dict()
    for name in sorted(state):
        tensor = state[name].detach()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        cpu = tensor.to("cpu").contiguous()
        # bfloat16 has no numpy dtype: hash its bytes through a same-width integer view.
        if cpu.dtype == torch.bfloat16:
            cpu = cpu.view(torch.int16)
        # The array's buffer itself, not a tobytes() copy of every tensor.
        digest.update(cpu.numpy().reshape(-1).view(np.uint8))
    return digest.hexdigest()

