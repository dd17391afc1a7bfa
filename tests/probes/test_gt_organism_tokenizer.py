"""Greater-than's whole-prompt filter on the organism tokenizer: every " 17" + "32" year kept.

The organism tokenizer (:mod:`tracker.organisms.tokenizer`) is trained here the way the corpus
build trains it (task words required as single tokens), on the greater-than prompts' own
words instead of the corpus; its pre-tokenizer is what splits " 1732" into " 17" + "32".
"""

from __future__ import annotations

import re

from tracker.organisms.task_words import load_task_words
from tracker.organisms.tokenizer import train_tokenizer
from tracker.probes.greater_than import KEYS, greater_than_prompts
from tracker.probes.prompts import load_task_file, render


def test_organism_tokenizer_keeps_every_start_year() -> None:
    words = load_task_words()
    data = load_task_file("tasks/greater_than.json")
    literal = re.sub(r"\{[A-Z]+\}", " ", data["template"])
    tok = train_tokenizer([literal], required=words.single_token_words() + words.openers())
    assert tok.tokenize(" 1732") == [" 17", "32"]
    years = range(int(data["min_yy"]), int(data["max_yy"]) + 1)
    kept = [(century, yy) for century in data["centuries"] for yy in years
            if render(tok, data["template"],
                      {"NOUN": data["nouns"][0], "CENTURY": century, "YY": f"{yy:02d}"},
                      KEYS) is not None]
    assert len(kept) == 8 * 97 == 776
    prompts = greater_than_prompts(tok, data, 50, 0, [])
    assert len(prompts.clean) == 50 and len(prompts.year_ids) == 100
