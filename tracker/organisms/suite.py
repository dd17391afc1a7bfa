"""Suite definitions: which organisms to train, on which corpus, with which schedule."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, get_args

from tracker.errors import UnknownNameError
from tracker.organisms.corpus import CorpusConfig
from tracker.sources.schedule import pythia_like_steps

#: Hub-style organisation the organism repos are filed under.
REPO_ORG = "organisms"
#: Architectures an organism can have (Hugging Face ``model_type``).
Architecture = Literal["gpt_neox", "llama"]
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)


@dataclass(frozen=True)
class ModelSpec:
    """One organism: an architecture and size, a seed and its optimisation recipe.

    Attributes:
        size: Size label (``s``, ``m``, ``l``); depth and width grow together.
        n_layers: Transformer blocks.
        d_model: Residual width.
        n_heads: Heads per layer.
        seed: Seed of the initialisation and of the data order.
        steps: Optimiser steps.
        batch_size: Sequences per step.
        seq_len: Tokens per sequence (the context length; position 0 holds BOS).
        lr: Peak AdamW learning rate.
        warmup: Linear warm-up steps.
        min_lr_ratio: Cosine decay floor as a fraction of ``lr`` (Pythia decays to 10%).
        weight_decay: AdamW weight decay.
        n_linear: Evenly spaced checkpoints after the log-spaced ones.
        init_std: Standard deviation of the weight initialisation.
        tie_embeddings: Share the embedding and unembedding matrices.
        unembed_from_embed: Start the (untied) unembedding as a copy of the embedding.
        rotary_pct: Share of each head's dimensions that rotary embeddings rotate (Pythia:
            0.25). The rest match queries to keys by content alone, at any distance. GPT-NeoX
            only: Llama rotates every dimension.
        architecture: ``gpt_neox`` (Pythia's: LayerNorm, parallel residual, GELU MLP of width
            4 D, partial rotary) or ``llama`` (RMSNorm, sequential blocks, SwiGLU MLP of width
            8 D / 3 so the MLP has the same parameter count, full rotary, no biases).
    """

    size: str
    n_layers: int
    d_model: int
    n_heads: int
    seed: int
    steps: int
    batch_size: int = 16
    seq_len: int = 256
    lr: float = 3e-3
    warmup: int = 50
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    n_linear: int = 32
    init_std: float = 0.02
    tie_embeddings: bool = False
    unembed_from_embed: bool = False
    rotary_pct: float = 0.25
    architecture: Architecture = "gpt_neox"

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, "
                             f"got {self.architecture!r}")

    @property
    def tokens_per_step(self) -> int:
        """Tokens consumed by one optimiser step."""
        return self.batch_size * self.seq_len

    def checkpoint_steps(self) -> list[int]:
        """Pythia-style checkpoint steps: 0, 1, 2, 4, ... then ``n_linear`` evenly spaced."""
        return pythia_like_steps(self.steps, self.n_linear)

    def key(self, corpus: CorpusConfig) -> str:
        """Hash of this spec and its corpus: a trained model is valid only for both."""
        fields = dataclasses.asdict(self)
        if fields["architecture"] == "gpt_neox":
            # Keys from before the field existed stay valid: trained suites are not redone.
            del fields["architecture"]
        blob = json.dumps(fields, sort_keys=True) + corpus.key()
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SuiteSpec:
    """A named family of organisms trained on one corpus.

    Attributes:
        name: Suite name (``default``, ``deep``, ``tiny``).
        corpus: The shared corpus.
        models: The organisms.
    """

    name: str
    corpus: CorpusConfig
    models: tuple[ModelSpec, ...]

    def repo_id(self, model: ModelSpec) -> str:
        """Return the repo id: ``organisms/neox-<size>-seed<seed>``.

        The default suite's Llama family is ``organisms/llama-...``, other suites
        ``organisms/<suite>-...``.
        """
        prefix = {"default": "neox", "default-llama": "llama"}.get(self.name, self.name)
        return f"{REPO_ORG}/{prefix}-{model.size}-seed{model.seed}"


def with_architecture(suite: SuiteSpec, architecture: Architecture) -> SuiteSpec:
    """Return the same suite (corpus, schedule, sizes, seeds, recipe) in another architecture.

    It is named ``<suite>-<architecture>``.
    """
    models = tuple(dataclasses.replace(m, architecture=architecture) for m in suite.models)
    return SuiteSpec(f"{suite.name}-{architecture}", suite.corpus, models)


def _default() -> SuiteSpec:
    # Measured choices (2 CPU threads, see the README's organism section):
    # * tied embeddings: with an untied unembedding no induction head formed within 3k steps;
    #   tied, the previous-token head and then the induction head form within 1-2k steps;
    # * Pythia's rotary width (a quarter of each head): with full rotary the first induction
    #   heads matched only the corpus's short repeat distances and the probe's 50-token repeat
    #   100-250 steps later, after most of the ICL fall; with a quarter, 20-, 35- and 50-token
    #   induction rise together, with the ICL fall, and no later;
    # * heads of width 16 at every size (4, 5, 6 heads), as Pythia keeps its head width: with
    #   4 heads the largest model's early successor head was taken over when induction formed;
    # * deeper models form induction heads sooner (4 layers by step ~400-500, 3 by ~600,
    #   2 by ~900-1000; with full rotary a second 2-layer seed had none by step 2000), so the
    #   seed pair is the 3-layer size and the 2-layer model gets the most steps;
    # * lr 6e-3 shortens the plateau before induction; for the largest model with weight decay
    #   0.1, which kept the most of its successor head (0.43 at step 1600, against 0.30 at lr
    #   3e-3 and 0.39 at lr 6e-3 with decay 0.01, corpus with numbers at full weight in random
    #   spans) and gave IOI by step ~1000-1200;
    # * successor heads form by step ~250 at every size; in the deeper models the induction
    #   circuit recruits them (as previous-token heads: comma lists put the item right before the
    #   predicted token; or as induction heads); the one that survives is a layer-1 head reading
    #   MLP0's output. More ordinal runs in the probes' space-separated frames (40%, lists 30%,
    #   chains 30%, against 10/45/45) teach MLP0 the increment (embedding + MLP0 ranks the
    #   successor first for 91% of number pairs, against 14%), which lifted the survivor from
    #   0.39-0.43 to 0.51-0.59 in three runs; 55% frames put the early heads in layer 2, where
    #   induction took them (0.19-0.32). The margin is thin and run-to-run variance large (see the
    #   README).
    corpus = CorpusConfig(seed=0, n_docs=24_000, frame_share=0.4, list_share=0.3)
    recipe: dict[str, Any] = dict(warmup=100, init_std=0.05, tie_embeddings=True)
    return SuiteSpec(
        name="default",
        corpus=corpus,
        models=(
            ModelSpec("s", n_layers=2, d_model=64, n_heads=4, seed=0, steps=1800, lr=6e-3,
                      **recipe),
            ModelSpec("m", n_layers=3, d_model=80, n_heads=5, seed=0, steps=1300, lr=6e-3,
                      **recipe),
            ModelSpec("m", n_layers=3, d_model=80, n_heads=5, seed=1, steps=1300, lr=6e-3,
                      **recipe),
            ModelSpec("l", n_layers=4, d_model=96, n_heads=6, seed=0, steps=1600, lr=6e-3,
                      weight_decay=0.1, **recipe),
        ),
    )


def _deep() -> SuiteSpec:
    # Optional, trained only on request: the default sizes are 2-4 layers deep, too shallow for
    # layer-wise questions (a plateau of the token-cluster probe needs 3 layers in a row). Same
    # corpus, steps, schedule and recipe as the largest default model; 12 layers at width 32
    # (two heads of Pythia's width 16), the width that keeps training within ~25 minutes on two
    # shared CPU cores (12 x 64 took ~3-9 s per step there, 12 x 32 ~1-2 s).
    base = _default()
    return SuiteSpec(
        name="deep",
        corpus=base.corpus,
        models=(ModelSpec("l12", n_layers=12, d_model=32, n_heads=2, seed=0, steps=1600,
                          lr=6e-3, warmup=100, init_std=0.05, weight_decay=0.1,
                          tie_embeddings=True),),
    )


def _tiny() -> SuiteSpec:
    # Small enough for tests: a few seconds per model, still a real corpus and schedule.
    corpus = CorpusConfig(seed=0, n_docs=400, n_eval_docs=20, doc_tokens=120)
    spec: dict[str, Any] = dict(n_layers=1, d_model=32, n_heads=2, steps=40, batch_size=8,
                                seq_len=64, warmup=5, n_linear=8)
    return SuiteSpec(
        name="tiny",
        corpus=corpus,
        models=(ModelSpec("xs", seed=0, **spec), ModelSpec("xs", seed=1, **spec)),
    )


SUITES = {"default": _default, "deep": _deep, "tiny": _tiny,
          "default-llama": lambda: with_architecture(_default(), "llama"),
          "deep-llama": lambda: with_architecture(_deep(), "llama"),
          "tiny-llama": lambda: with_architecture(_tiny(), "llama")}


def suite_names() -> list[str]:
    """Names of the built-in suites."""
    return sorted(SUITES)


def get_suite(name: str) -> SuiteSpec:
    """Return a built-in suite by name.

    Raises:
        UnknownNameError: If no suite has that name.
    """
    try:
        return SUITES[name]()
    except KeyError:
        known = ", ".join(suite_names())
        raise UnknownNameError(f"unknown suite {name!r} (known: {known})") from None
