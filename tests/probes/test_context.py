"""ProbeContext: one pass per input, each activation kept only while a declared reader waits."""

from __future__ import annotations

import torch

from tests.support.builders import tiny_model, tiny_tokenizer
from tracker.probes import InputCache, ProbeContext


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


def test_inputs_are_built_once_per_series_and_again_when_what_they_depend_on_changes() -> None:
    tokenizer = tiny_tokenizer()
    cache = InputCache()
    builds: list[int] = []

    def build() -> list[int]:
        builds.append(1)
        return [len(builds)]

    def memo(model: object, tok: object, **scratch: object) -> list[int]:
        ctx = ProbeContext(model, tok)
        ctx.scratch.update(scratch)
        ctx.share_inputs(cache)
        value: list[int] = ctx.memo("prompts", build)
        assert ctx.memo("prompts", build) is value  # and once per context, as before
        return value

    first = memo(tiny_model(seed=0), tokenizer)
    assert memo(tiny_model(seed=1), tokenizer) is first  # other weights, same inputs
    assert memo(tiny_model(seed=1), tiny_tokenizer()) == [2]  # another tokenizer object
    assert memo(tiny_model(seed=1, max_position_embeddings=32), tokenizer) == [3]  # context
    source = ["w1 w2"]
    assert memo(tiny_model(), tokenizer, text_dataset=source) == [4]  # a text source handed in
    assert memo(tiny_model(), tokenizer, text_dataset=source) == [4]
    assert memo(tiny_model(), tokenizer, text_dataset=["w1 w2"]) == [5]  # not the same source
    assert len(builds) == 5


def test_a_context_without_the_cache_builds_at_every_checkpoint() -> None:
    builds: list[int] = []
    for seed in range(2):
        ProbeContext(tiny_model(seed=seed)).memo("x", lambda: builds.append(1))
    assert len(builds) == 2
