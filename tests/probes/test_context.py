"""ProbeContext: one pass per input, each activation kept only while a declared reader waits."""

from __future__ import annotations

import torch

from tests.support.builders import tiny_model
from tracker.probes import ProbeContext


def test_an_activation_goes_after_its_last_reader_and_the_rest_stay_without_a_rerun() -> None:
    ctx = ProbeContext(tiny_model())
    tokens = torch.randint(1, 50, (2, 9), generator=torch.Generator().manual_seed(0))
    ctx.active_probe = "a"
    ctx.declare(tokens, {"patterns"})
    ctx.active_probe = "b"
    ctx.declare(tokens, {"patterns", "resid"})
    ctx.active_probe = "c"
    ctx.declare(tokens, {"resid"})
    out = ctx.forward(tokens, {"patterns"})
    assert out.patterns is not None and out.resid is not None  # the union of declarations
    ctx.release("a")
    assert out.patterns is not None  # b still reads them
    ctx.release("b")
    assert out.patterns is None and out.resid is not None
    again = ctx.forward(tokens, {"resid"})
    assert again.resid is out.resid and ctx.forward_count == 1
    ctx.release("c")
    assert out.resid is None
    ctx.forward(tokens, {"resid"})
    assert ctx.forward_count == 2  # nothing cached once every reader is done


def test_chunks_are_assembled_into_one_batch() -> None:
    model = tiny_model()
    tokens = torch.randint(1, 50, (5, 9), generator=torch.Generator().manual_seed(1))
    whole = ProbeContext(model).forward(tokens, {"patterns", "resid", "logits"})
    ctx = ProbeContext(model, batch_size=2)
    chunked = ctx.forward(tokens, {"patterns", "resid", "logits"})
    assert ctx.forward_count == 3
    for name in ("patterns", "resid", "logits"):
        assert torch.allclose(chunked.require(name), whole.require(name), atol=1e-6), name
