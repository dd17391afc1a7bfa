"""A small word-level tokenizer trained on the organism corpus.

Words keep their leading space as part of the token (`` Monday``), as in GPT-2 and Pythia,
so probes written for Pythia tokenize prompts the same way here. Four-digit years split
into a century and a two-digit half (`` 1732`` -> `` 17`` + ``32``), which the greater-than
task relies on. A word-level model (rather than BPE) guarantees that every task word is one
token and keeps the vocabulary to the words the corpus actually uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tracker.errors import TrackerError

BOS_EOS = "<|endoftext|>"
PAD = "<|padding|>"
UNK = "<|unk|>"
SPECIAL_TOKENS = (BOS_EOS, PAD, UNK)

#: Pre-tokenizer pieces, tried left to right: a leading two-digit half of a four-digit
#: number, any other digit run, a letter run, one punctuation mark, whitespace. Each may
#: carry one leading space.
PIECE_PATTERN = r" ?\d{2}(?=\d{2}(?!\d))| ?\d+| ?\p{L}+| ?[^\s\p{L}\p{N}]|\s+"


class TokenizerError(TrackerError):
    """The organism tokenizer cannot represent a word the probes need."""


def _backend(vocab: dict[str, int] | None = None) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(PIECE_PATTERN), behavior="isolated")
    # Tokens hold their own spaces, so decoding is plain concatenation.
    tok.decoder = decoders.Fuse()
    return tok


def train_tokenizer(texts: Iterable[str], required: Iterable[str] = ()) -> Any:
    """Train a word-level tokenizer on texts and wrap it as a Hugging Face fast tokenizer.

    Args:
        texts: Corpus documents.
        required: Strings that must each become exactly one token (task words such as
            `` Monday`` or ``32``); they join the vocabulary even if the corpus lacks them.

    Returns:
        A ``PreTrainedTokenizerFast`` with ``<|endoftext|>`` as BOS and EOS (as in Pythia),
        ``<|padding|>`` as pad and ``<|unk|>`` for unknown words.

    Raises:
        TokenizerError: If a required string does not pre-tokenize to a single piece.
    """
    from tokenizers import trainers
    from transformers import PreTrainedTokenizerFast

    required = list(required)
    tok = _backend()
    trainer = trainers.WordLevelTrainer(
        special_tokens=list(SPECIAL_TOKENS), min_frequency=1, show_progress=False
    )
    # Required words are fed as extra one-word texts so they are counted like any other.
    tok.train_from_iterator(_chain(texts, required), trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS_EOS, eos_token=BOS_EOS, pad_token=PAD, unk_token=UNK
    )
    check_single_tokens(wrapped, required)
    return wrapped


def _chain(texts: Iterable[str], extra: list[str]) -> Iterable[str]:
    yield from texts
    yield from extra


def check_single_tokens(tokenizer: Any, words: Iterable[str]) -> None:
    """Check every word encodes to one known token.

    Raises:
        TokenizerError: Naming the first word that does not.
    """
    unk = tokenizer.unk_token_id
    for word in words:
        ids = tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(ids) != 1 or ids[0] == unk:
            pieces = tokenizer.convert_ids_to_tokens(ids)
            raise TokenizerError(f"task word {word!r} is not one token (got {pieces})")
