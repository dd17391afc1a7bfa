r"""Checkpoint suites: how a run names its revisions, and what a name says about tokens seen.

A :class:`RevisionScheme` is a regex over revision names with a named group ``step`` and,
optionally, ``tokens`` (a number with an optional ``K``/``M``/``B``/``T`` suffix: ``84B``).
Known suites:

========  ===============================  ======================  ========================
suite     revisions                        repos                   tokens
========  ===============================  ======================  ========================
pythia    ``step{N}``                      EleutherAI/pythia-*     N x 2,097,152 (1024 x 2048)
olmo      ``step{N}-tokens{M}B``           allenai/OLMo-*          M billion, from the name
olmo2     ``stage1-step{N}-tokens{M}B``    allenai/OLMo-2-*        M billion, from the name
crfm      ``checkpoint-{N}``               stanford-crfm/*gpt2*    N x 524,288 (512 x 1024)
amber     ``ckpt_{NNN}``                   LLM360/Amber            N x 1259.13B / 359
========  ===============================  ======================  ========================

* OLMo 2's stage-2 revisions (``stage2-ingredient{K}-step{N}-tokens{M}B``) are separate
  annealing runs that restart the step count, so the built-in scheme keeps stage 1; select
  one ingredient with a user pattern such as
  ``stage2-ingredient1-step(?P<step>\d+)-tokens(?P<tokens>\d+B)``.
* Amber's ``ckpt_N`` is the index of 360 equal data chunks, not an optimiser step; the model
  card gives 1259.13B tokens in all with ``ckpt_359`` the final model, so ``ckpt_N`` is put at
  ``N / 359`` of them (the step is N; what ``ckpt_000`` holds is not stated).
* Names that carry tokens give each checkpoint its tokens; the series' tokens per step is then
  the ratio at the last checkpoint (names round to whole billions, so it is close only late).

A repo that is not a known suite gets the known scheme that names most of its revisions
(``step{N}`` before ``checkpoint-{N}``), but no built-in tokens per step: it comes from the
user (``--tokens-per-step``), the series metadata, the names, or is 1 (tokens = steps).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tracker.errors import SourceError
from tracker.sources.schedule import PYTHIA_TOKENS_PER_STEP, Checkpoint

_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
_TOKENS = re.compile(r"(\d+(?:\.\d+)?)([KMBT]?)", re.IGNORECASE)


def parse_tokens(text: str) -> int:
    """Turn ``84B``, ``512M``, ``1.5T`` or ``1000`` into a token count.

    Raises:
        SourceError: For anything else.
    """
    match = _TOKENS.fullmatch(text.strip())
    if not match:
        raise SourceError(f"cannot read a token count from {text!r} (e.g. 84B, 512M, 1000)")
    return round(float(match.group(1)) * _SUFFIX[match.group(2).upper()])


@dataclass(frozen=True)
class RevisionScheme:
    """How one suite names its checkpoints.

    Attributes:
        name: Suite name (``pythia``, ``olmo``, ... or ``user``).
        pattern: Regex a whole revision name must match, with a group ``step`` and optionally
            a group ``tokens``.
        tokens_per_step: Built-in tokens per step of a known suite (None: not known).
        repos: Globs of hub repo ids (case-insensitive) that follow the scheme.
    """

    name: str
    pattern: str
    tokens_per_step: int | None = None
    repos: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            groups = re.compile(self.pattern).groupindex
        except re.error as exc:
            raise SourceError(f"revision pattern {self.pattern!r}: {exc}") from exc
        if "step" not in groups:
            raise SourceError(f"revision pattern {self.pattern!r} has no (?P<step>...) group")

    @property
    def carries_tokens(self) -> bool:
        """Whether names carry the tokens seen."""
        return "tokens" in re.compile(self.pattern).groupindex

    def parse(self, revision: str) -> tuple[int, int | None] | None:
        """Return (step, tokens or None) of a revision name, or None if it is not a checkpoint.

        Raises:
            SourceError: If the name matches but its step or tokens are not numbers.
        """
        match = re.fullmatch(self.pattern, revision)
        if match is None:
            return None
        try:
            step = int(match.group("step"))
        except ValueError:
            raise SourceError(f"revision {revision!r}: step {match.group('step')!r} "
                              "is not an integer") from None
        tokens = match.groupdict().get("tokens")
        return step, None if tokens is None else parse_tokens(tokens)

    def matches_repo(self, repo_id: str) -> bool:
        """Whether ``repo_id`` is one of the suite's known repos."""
        return any(fnmatch.fnmatch(repo_id.lower(), glob.lower()) for glob in self.repos)


#: The known suites, in the order a repo's names are tried against them.
KNOWN_SCHEMES: tuple[RevisionScheme, ...] = (
    RevisionScheme("olmo2", r"stage1-step(?P<step>\d+)-tokens(?P<tokens>\d+B)",
                   repos=("allenai/OLMo-2-*",)),
    RevisionScheme("olmo", r"step(?P<step>\d+)-tokens(?P<tokens>\d+B)",
                   repos=("allenai/OLMo-*",)),
    RevisionScheme("pythia", r"step(?P<step>\d+)", PYTHIA_TOKENS_PER_STEP,
                   repos=("EleutherAI/pythia-*",)),
    RevisionScheme("crfm", r"checkpoint-(?P<step>\d+)", 512 * 1024,
                   repos=("stanford-crfm/*gpt2*",)),
    RevisionScheme("amber", r"ckpt_(?P<step>\d+)", round(1259.13e9 / 359),
                   repos=("LLM360/Amber",)),
)


def user_scheme(pattern: str) -> RevisionScheme:
    """Return a scheme from a user's regex (named group ``step``, optionally ``tokens``).

    Raises:
        SourceError: If the regex does not compile or lacks a ``step`` group.
    """
    return RevisionScheme("user", pattern)


def scheme_for(repo_id: str, revisions: Iterable[str]) -> RevisionScheme:
    """Return a repo's scheme: its known suite's, else the known scheme naming most names.

    A scheme found from the names alone carries no tokens per step (see the module docstring).

    Raises:
        SourceError: If no known scheme names any revision (the message lists the schemes).
    """
    for scheme in KNOWN_SCHEMES:
        if scheme.matches_repo(repo_id):
            return scheme
    names = list(revisions)
    counts = [sum(scheme.parse(n) is not None for n in names) for scheme in KNOWN_SCHEMES]
    best = max(range(len(counts)), key=lambda i: counts[i])
    if counts[best] == 0:
        known = ", ".join(f"{s.name} ({s.pattern})" for s in KNOWN_SCHEMES)
        raise SourceError(f"{repo_id}: no revision names a checkpoint in a known way ({known}); "
                          "give a pattern with a (?P<step>...) group")
    found = KNOWN_SCHEMES[best]
    return RevisionScheme(found.name, found.pattern)


def checkpoints_from_revisions(
    revisions: Iterable[str], scheme: RevisionScheme, tokens_per_step: int | None = None,
    what: str = "series",
) -> tuple[list[Checkpoint], int]:
    """Turn revision names into checkpoints sorted by step, and the series' tokens per step.

    Tokens per step: ``tokens_per_step`` if given, else the scheme's built-in one, else the
    ratio tokens / step at the last named checkpoint, else 1. A checkpoint's tokens come from
    its name when the name carries them, else step x tokens per step. Names the scheme does
    not match (``main``, other stages) are left out.

    Raises:
        SourceError: If no name matches, or two names give the same step.
    """
    parsed: dict[int, tuple[str, int | None]] = {}
    for name in revisions:
        got = scheme.parse(name)
        if got is None:
            continue
        step, tokens = got
        if step in parsed:
            raise SourceError(f"{what}: revisions {parsed[step][0]!r} and {name!r} "
                              f"are both step {step}")
        parsed[step] = (name, tokens)
    if not parsed:
        raise SourceError(f"{what}: no revisions named like {scheme.pattern!r} "
                          f"({scheme.name} checkpoints)")
    steps = sorted(parsed)
    per_step = tokens_per_step or scheme.tokens_per_step
    if per_step is None:
        last = parsed[steps[-1]][1]
        per_step = max(1, round(last / steps[-1])) if last and steps[-1] > 0 else 1
    out = []
    for step in steps:
        name, tokens = parsed[step]
        out.append(Checkpoint(step, name, step * per_step if tokens is None else tokens))
    return out, per_step
