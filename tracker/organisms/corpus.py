"""The organism corpus: seeded documents, a tokenizer trained on them, and a token stream.

A corpus is fully determined by its :class:`CorpusConfig` (plus the task files), and is
cached on disk under ``ROOT/corpus/<key>/`` where the key hashes both. The folder holds

* ``dataset/``: a ``datasets.DatasetDict`` (``train`` and ``validation``, column ``text``)
  written by ``save_to_disk``;
* ``tokenizer/``: the Hugging Face fast tokenizer;
* ``train.npy`` / ``validation.npy``: each split tokenized, every document followed by
  ``<|endoftext|>``, concatenated (uint16), which the trainer slices into sequences.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from tracker.organisms.grammar import SegmentWriter
from tracker.organisms.task_words import TaskWords, load_task_words, tasks_dir
from tracker.organisms.tokenizer import train_tokenizer

#: Bump when the generator's output changes for an unchanged config (invalidates caches).
GENERATOR_VERSION = 5

KINDS = ("plain", "idioms", "random_span", "repeat", "loop", "succession", "ioi", "years")


@dataclass(frozen=True)
class CorpusConfig:
    """What to generate.

    Attributes:
        seed: Seed of the generator.
        n_docs: Training documents.
        n_eval_docs: Held-out documents (drawn from an independent stream).
        doc_tokens: Approximate length of a document in tokens.
        mix: Relative weights of segment kinds, as (kind, weight) pairs (see ``KINDS``).
        span_min: Shortest random span, in words.
        span_max: Longest random span, in words.
        max_repeats: A random span is followed by 1..max_repeats copies of itself.
        max_gap: Up to this many random words separate a span from its first copy.
        repeat_span_share: Share of later repeats that copy an earlier random span (the rest
            copy any earlier segment of the document).
        open_span_share: Share of documents that open with a random span (the rest open
            with a plain sentence); ``None`` draws the opening from ``mix`` like any other
            segment. The default keeps early and late positions of a document alike, so the
            in-context-learning score measures in-context learning rather than a difference
            between the kinds of text that open documents and the kinds that follow.
        paragraph_share: Chance that a sentence starts a new paragraph (newline, no space).
        n_idiom_heads: Head words of the idiom table.
        frame_share: Share of ordinal runs in the probes' space-separated frames (the rest
            are comma lists and chains).
        list_share: Share of ordinal runs written as comma lists (the rest are chains).
        span_number_weight: Weight of each number (`` 1`` .. `` 200``) among the units of
            random spans, relative to any other unit's 1. The numbers are 200 of the ~680
            units, so at weight 1 most of their occurrences are meaningless copy targets;
            at 0.2 most are ordinal runs, as in natural text (see the README for what that
            did and did not change).
    """

    seed: int = 0
    n_docs: int = 20_000
    n_eval_docs: int = 200
    doc_tokens: int = 250
    mix: tuple[tuple[str, float], ...] = (
        ("plain", 1.0),
        ("idioms", 2.0),
        ("random_span", 5.0),
        ("repeat", 3.0),
        ("loop", 2.0),
        ("succession", 10.0),
        ("ioi", 3.0),
        ("years", 3.0),
    )
    span_min: int = 4
    span_max: int = 20
    max_repeats: int = 3
    max_gap: int = 10
    repeat_span_share: float = 0.7
    open_span_share: float | None = None
    paragraph_share: float = 0.15
    n_idiom_heads: int = 16
    frame_share: float = 0.1
    list_share: float = 0.45
    span_number_weight: float = 1.0

    def key(self) -> str:
        """Hash of the config, the generator version and the task files (16 hex chars)."""
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True)
        digest = hashlib.sha256(f"{GENERATOR_VERSION}|{blob}|{_tasks_digest()}".encode())
        return digest.hexdigest()[:16]


def _tasks_digest() -> str:
    digest = hashlib.sha256()
    for name in ("succession.json", "ioi.json", "greater_than.json"):
        path = tasks_dir() / name
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def _approx_tokens(text: str) -> int:
    # Words, commas and full stops each make a token; years make two (close enough).
    return text.count(" ") + text.count(",") + text.count(".")


def write_document(writer: SegmentWriter, config: CorpusConfig) -> str:
    """Write one document of about ``config.doc_tokens`` tokens.

    Args:
        writer: Segment generator (its rng decides everything).
        config: Mixture weights and span lengths.

    Returns:
        The document text; the first word has no leading space, as at the start of a file.
    """
    rng = writer.rng
    kinds = [k for k, _ in config.mix]
    weights = [w for _, w in config.mix]
    parts: list[str] = []
    spans: list[str] = []
    total = 0
    while total < config.doc_tokens:
        if not parts and config.open_span_share is not None:
            kind = "random_span" if rng.random() < config.open_span_share else "plain"
        else:
            kind = rng.choices(kinds, weights)[0]
        if kind == "repeat" and parts:
            pool = spans if spans and rng.random() < config.repeat_span_share else parts
            segment = rng.choice(pool)
        elif kind in ("random_span", "repeat"):
            # A span and its first repeats come close together: induction heads form from
            # local, reliable repetition long before they form from distant repeats.
            span = writer.random_span(config.span_min, config.span_max)
            filler = writer.random_span(0, config.max_gap)
            segment = span + filler + span * rng.randint(1, config.max_repeats) + "."
            spans.append(span + ".")
        else:
            segment = getattr(writer, kind)()
        parts.append(segment)
        total += _approx_tokens(segment)
    text = ""
    for i, segment in enumerate(parts):
        # A sentence may open the document or a paragraph; its first word then has no
        # leading space, as in the probes' prompts ("When Mary and John ...").
        if writer.is_opener(segment) and (i == 0 or rng.random() < config.paragraph_share):
            segment = ("" if i == 0 else "\n") + segment[1:]
        text += segment
    return text


def make_writer(config: CorpusConfig, rng: random.Random, words: TaskWords) -> SegmentWriter:
    """Build the segment writer a config describes, drawing from ``rng``."""
    return SegmentWriter(rng, words, table_seed=config.seed, n_idiom_heads=config.n_idiom_heads,
                         frame_share=config.frame_share, list_share=config.list_share,
                         span_number_weight=config.span_number_weight)


def iter_documents(config: CorpusConfig, split: str = "train") -> Iterator[str]:
    """Yield the documents of a split, deterministically from the config.

    Args:
        config: Corpus config.
        split: ``train`` or ``validation`` (an independent random stream).
    """
    words = load_task_words()
    count = config.n_docs if split == "train" else config.n_eval_docs
    writer = make_writer(config, random.Random(f"organisms-{config.seed}-{split}"), words)
    for _ in range(count):
        yield write_document(writer, config)


class Corpus:
    """A built corpus on disk (see the module doc for the layout).

    Args:
        folder: The corpus folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @cached_property
    def tokenizer(self) -> Any:
        """The fast tokenizer trained on this corpus."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.folder / "tokenizer"))

    @cached_property
    def dataset(self) -> Any:
        """The ``DatasetDict`` of documents."""
        from datasets import load_from_disk

        return load_from_disk(str(self.folder / "dataset"))

    def tokens(self, split: str = "train") -> np.ndarray:
        """Return the split's token stream (memory-mapped uint16)."""
        return np.load(self.folder / f"{split}.npy", mmap_mode="r")

    @property
    def info(self) -> dict[str, Any]:
        """Facts written at build time (config, sizes, vocab)."""
        return json.loads((self.folder / "corpus.json").read_text())


def build_corpus(config: CorpusConfig, root: str | os.PathLike[str]) -> Corpus:
    """Build the corpus for a config under ``root/corpus/``, or reuse the cached one.

    The folder is assembled in a temporary directory and renamed into place, so a kill
    leaves no half-written corpus behind.

    Args:
        config: What to generate.
        root: Organism artifact root.

    Returns:
        The corpus.
    """
    folder = Path(root) / "corpus" / config.key()
    if (folder / "corpus.json").is_file():
        return Corpus(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".building-"))
    try:
        _build_into(tmp, config, load_task_words())
        if not folder.exists():  # else a concurrent builder won; its result is identical
            os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Corpus(folder)


def _build_into(out: Path, config: CorpusConfig, words: TaskWords) -> None:
    from datasets import Dataset, DatasetDict
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()  # the trainer's own bars are the ones worth reading

    texts = {split: list(iter_documents(config, split)) for split in ("train", "validation")}
    DatasetDict({s: Dataset.from_dict({"text": t}) for s, t in texts.items()}).save_to_disk(
        str(out / "dataset")
    )
    lexicon = make_writer(config, random.Random(0), words).lexicon()
    tokenizer = train_tokenizer(
        texts["train"] + lexicon, required=words.single_token_words() + words.openers()
    )
    tokenizer.save_pretrained(str(out / "tokenizer"))
    eos = tokenizer.eos_token_id
    sizes = {}
    for split, docs in texts.items():
        ids = tokenizer(docs, add_special_tokens=False)["input_ids"]
        # Every document is followed by EOS; uint16 holds any vocabulary this small.
        stream = np.concatenate([np.asarray([*doc, eos], dtype=np.uint16) for doc in ids])
        np.save(out / f"{split}.npy", stream)
        sizes[split] = int(stream.size)
    info = {
        "config": dataclasses.asdict(config),
        "key": config.key(),
        "generator_version": GENERATOR_VERSION,
        "vocab_size": len(tokenizer),
        "tokens": sizes,
        "unk_tokens": {
            split: int((np.load(out / f"{split}.npy") == tokenizer.unk_token_id).sum())
            for split in texts
        },
    }
    (out / "corpus.json").write_text(json.dumps(info, indent=1))
