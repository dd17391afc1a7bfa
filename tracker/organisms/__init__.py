"""Embedded model organisms: small GPT-NeoX models trained here, checkpointed like Pythia.

The hub cannot always be reached, so the project ships its own checkpoint series: a family
of Pythia-architecture models (parallel residual, rotary on a quarter of each head) trained
on a generated corpus in which real mechanisms (induction heads, successor heads, IOI,
greater-than) emerge during training. Each model is written as a local Hugging Face cache
(``refs/step{N}``) and loads through ``tracker.sources.open_series`` exactly like a Pythia
repo. The ``-llama`` suites (``default-llama``, ``tiny-llama``, ``deep-llama``) train the same
family (corpus, schedule, sizes, seeds, recipe) as Llama models, for comparing architectures.

Typical use::

    from tracker.organisms import train_suite

    info = train_suite("default")            # trains once, then returns at once
    series = info.model("l").open()          # a tracker.sources.CheckpointSeries
"""

from tracker.organisms.api import (
    ROOT_ENV,
    OrganismError,
    OrganismInfo,
    SuiteInfo,
    default_root,
    suite_info,
    train_suite,
)
from tracker.organisms.corpus import Corpus, CorpusConfig, build_corpus, iter_documents
from tracker.organisms.suite import ModelSpec, SuiteSpec, get_suite, suite_names
from tracker.organisms.tokenizer import train_tokenizer

__all__ = [
    "ROOT_ENV",
    "Corpus",
    "CorpusConfig",
    "ModelSpec",
    "OrganismError",
    "OrganismInfo",
    "SuiteInfo",
    "SuiteSpec",
    "build_corpus",
    "default_root",
    "get_suite",
    "iter_documents",
    "suite_info",
    "suite_names",
    "train_suite",
    "train_tokenizer",
]
