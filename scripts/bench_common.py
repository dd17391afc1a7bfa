"""What the benchmark scripts share: a word-level tokenizer over synthetic words.

The scripts import this from their own folder (``python scripts/bench_*.py`` puts ``scripts/``
on ``sys.path``); nothing here comes from the test suite.
"""

from __future__ import annotations

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast


def word_tokenizer(vocab: int) -> PreTrainedTokenizerFast:
    """Word-level tokenizer over words ``w0..w{vocab-2}`` with ``<|bos|>`` as id 0.

    Args:
        vocab: Vocabulary size, ``<|bos|>`` included (it doubles as eos and unknown).
    """
    words = {"<|bos|>": 0}
    words.update({f"w{i}": i + 1 for i in range(vocab - 1)})
    tok = Tokenizer(models.WordLevel(words, unk_token="<|bos|>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|bos|>", unk_token="<|bos|>"
    )
