"""The organism corpus and tokenizer: deterministic text, task words as single tokens."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from tracker.organisms.corpus import CorpusConfig, build_corpus, iter_documents
from tracker.organisms.grammar import SegmentWriter
from tracker.organisms.suite import get_suite
from tracker.organisms.task_words import load_task_words
from tracker.organisms.tokenizer import TokenizerError, check_single_tokens, train_tokenizer
from tracker.organisms.train import TokenBatches

SMALL = CorpusConfig(seed=3, n_docs=40, n_eval_docs=5, doc_tokens=120)


def test_documents_are_deterministic_and_seeded() -> None:
    first = list(iter_documents(SMALL))
    again = list(iter_documents(SMALL))
    other = list(iter_documents(CorpusConfig(seed=4, n_docs=40, n_eval_docs=5, doc_tokens=120)))
    assert first == again
    assert len(first) == 40
    assert sum(a == b for a, b in zip(first, other, strict=True)) == 0
    # Validation is an independent stream, not a prefix of training.
    assert list(iter_documents(SMALL, "validation"))[0] not in first


def test_documents_mix_every_segment_kind() -> None:
    text = " ".join(iter_documents(CorpusConfig(seed=0, n_docs=60, doc_tokens=200)))
    words = load_task_words()
    # IOI: "<A> and <B> ... <S> gave ... to <IO>." with IO the name not repeated.
    ioi = re.findall(r"(\w+) and (\w+) went to the \w+\. (\w+) gave an? \w+ to (\w+)\.", text)
    assert ioi
    for a, b, s, io in ioi:
        assert a in words.names and {s, io} == {a, b}
    # Greater-than: same century, end year larger than the start year.
    years = re.findall(r"from the year (\d\d)(\d\d) to the year (\d\d)(\d\d)", text)
    assert years
    assert all(c1 == c2 and int(y2) > int(y1) for c1, y1, c2, y2 in years)
    # Succession in running text.
    assert re.search(r"Monday, (and )?then Tuesday|Mon, (and )?then Tue|\b(\d+), (\d+), ", text)
    # Spans repeated within a document (induction).
    doc = next(iter_documents(CorpusConfig(seed=0, n_docs=1, doc_tokens=200)))
    first_span = doc.split(".")[0].strip().split(" ")[:5]
    assert doc.count(" ".join(first_span)) >= 2


def test_succession_runs_follow_task_order() -> None:
    words = load_task_words()
    writer = SegmentWriter(random.Random(0), words)
    order = {name: task.items for name, task in words.succession.items()}
    checked = 0
    for _ in range(200):
        run = writer._run(4)
        task = next(items for items in order.values() if all(x in items for x in run))
        idx = [task.index(x) for x in run]
        steps = {(b - a) % len(task) for a, b in zip(idx, idx[1:], strict=False)}
        checked += steps == {1}
    assert checked >= 190  # items shared by two tasks ("May", "I") may pick the other one


@pytest.mark.parametrize("weight", [0.0, 0.2, 1.0])
def test_span_number_weight_sets_the_share_of_numbers_in_random_spans(weight: float) -> None:
    words = load_task_words()
    writer = SegmentWriter(random.Random(0), words, span_number_weight=weight)
    numbers = {" " + x for x in words.succession["numbers"].items}
    units = [u for _ in range(400) for u in writer.rng.choices(
        writer.span_pool, cum_weights=writer.span_cum_weights, k=20)]
    n_numbers = len(numbers & set(writer.span_pool))
    expected = weight * n_numbers / (weight * n_numbers + len(writer.span_pool) - n_numbers)
    share = sum(u in numbers for u in units) / len(units)
    assert n_numbers == 200
    assert share == pytest.approx(expected, abs=0.02)
    text = "".join(writer.random_span(20, 20) for _ in range(50))
    assert (re.search(r" \d{1,3}(?!\d)", text) is None) == (weight == 0.0)


def test_every_task_word_is_one_token(tmp_path) -> None:
    corpus = build_corpus(SMALL, tmp_path)
    tok = corpus.tokenizer
    words = load_task_words()
    required = words.single_token_words() + words.openers()
    check_single_tokens(tok, required)  # raises on the first failure
    assert tok.tokenize(" 1732") == [" 17", "32"]
    assert tok.tokenize("The war lasted from the year 1732 to the year 17") == [
        "The", " war", " lasted", " from", " the", " year", " 17", "32", " to", " the",
        " year", " 17"]
    assert tok.tokenize(" Monday, then Tuesday") == [" Monday", ",", " then", " Tuesday"]
    sentence = " Mary gave a book to John."
    assert tok.decode(tok(sentence)["input_ids"]) == sentence
    assert tok.bos_token == tok.eos_token == "<|endoftext|>"
    assert tok.pad_token == "<|padding|>"
    assert 500 < len(tok) < 2000
    # The corpus has no unknown words, and every document ends with EOS in the stream.
    info = corpus.info
    assert info["unk_tokens"] == {"train": 0, "validation": 0}
    stream = corpus.tokens("train")
    assert int((stream == tok.eos_token_id).sum()) == SMALL.n_docs
    assert corpus.dataset["train"].num_rows == SMALL.n_docs
    assert corpus.dataset["validation"].num_rows == SMALL.n_eval_docs


def test_corpus_is_cached_by_config(tmp_path) -> None:
    first = build_corpus(SMALL, tmp_path)
    again = build_corpus(SMALL, tmp_path)
    assert first.folder == again.folder
    assert np.array_equal(first.tokens(), again.tokens())
    other = build_corpus(CorpusConfig(seed=4, n_docs=40, n_eval_docs=5, doc_tokens=120), tmp_path)
    assert other.folder != first.folder
    assert len(list((tmp_path / "corpus").iterdir())) == 2


def test_missing_task_word_is_named() -> None:
    tok = train_tokenizer(["The cat saw a dog."])
    with pytest.raises(TokenizerError, match="Monday"):
        check_single_tokens(tok, [" Monday"])


def test_batches_depend_only_on_seed_and_step() -> None:
    tokens = np.arange(5000, dtype=np.uint16)
    a = TokenBatches(tokens, seq_len=16, batch_size=4, seed=0, bos=0)
    b = TokenBatches(tokens, seq_len=16, batch_size=4, seed=0, bos=0)
    late = a.batch(200)  # visit a later epoch first: no hidden state carried between calls
    assert np.array_equal(b.batch(200), late)
    assert np.array_equal(a.batch(3), b.batch(3))
    assert late.shape == (4, 16) and (late[:, 0] == 0).all()
    assert not np.array_equal(TokenBatches(tokens, 16, 4, 1, 0).batch(3), a.batch(3))


def test_suites_are_defined() -> None:
    default = get_suite("default")
    sizes = {(m.size, m.n_layers, m.d_model) for m in default.models}
    assert len(sizes) >= 3
    seeds_per_size = {size: {m.seed for m in default.models if m.size == size}
                      for size, _, _ in sizes}
    assert max(len(seeds) for seeds in seeds_per_size.values()) >= 2
    # Depth and width grow together.
    shapes = sorted((m.n_layers, m.d_model) for m in default.models)
    assert all(a[1] <= b[1] for a, b in zip(shapes, shapes[1:], strict=False))
    for model in default.models:
        steps = model.checkpoint_steps()
        assert len(steps) >= 30 and steps[:4] == [0, 1, 2, 4] and steps[-1] == model.steps
    assert len({default.repo_id(m) for m in default.models}) == len(default.models)


def test_random_spans_cover_every_token(tmp_path) -> None:
    """Every non-special token is a span unit, and units tokenize back to their pieces.

    The induction probe draws random tokens from the whole vocabulary, so repeated spans in
    the corpus must be able to hold every token (year halves and sentence openers included).
    """
    corpus = build_corpus(SMALL, tmp_path)
    tok = corpus.tokenizer
    writer = SegmentWriter(random.Random(0), load_task_words())
    unit_tokens: set[str] = set()
    for unit in writer.span_pool:
        pieces = tok.tokenize(unit)
        assert 1 <= len(pieces) <= 2, (unit, pieces)
        assert "<|unk|>" not in pieces
        unit_tokens.update(pieces)
    vocab = set(tok.get_vocab()) - set(tok.all_special_tokens) - {"<|unk|>"}
    assert vocab == unit_tokens
    assert {"\nMary", ",", " Monday"} <= set(writer.span_pool)
    assert sum(bool(re.fullmatch(r" \d{4}", u)) for u in writer.span_pool) == 100
    # A span glued from units tokenizes into exactly the units' pieces.
    rng = random.Random(1)
    units = [rng.choice(writer.span_pool) for _ in range(400)]
    expected = [p for u in units for p in tok.tokenize(u)]
    assert tok.tokenize("".join(units)) == expected
