import pytest

from tracker.errors import SourceError
from tracker.sources import (
    KNOWN_SCHEMES,
    PYTHIA_TOKENS_PER_STEP,
    checkpoints_from_revisions,
    scheme_for,
    user_scheme,
)
from tracker.sources.suites import parse_tokens

SCHEMES = {s.name: s for s in KNOWN_SCHEMES}


@pytest.mark.parametrize(("suite", "name", "expected"), [
    ("pythia", "step143000", (143000, None)),
    ("olmo", "step20000-tokens84B", (20000, 84 * 10**9)),
    ("olmo2", "stage1-step140000-tokens1174B", (140000, 1174 * 10**9)),
    ("crfm", "checkpoint-400000", (400000, None)),
    ("amber", "ckpt_007", (7, None)),
])
def test_each_suite_reads_its_names(suite: str, name: str, expected: tuple) -> None:
    scheme = SCHEMES[suite]
    assert scheme.parse(name) == expected
    assert scheme.parse("main") is None and scheme.parse(name + "-x") is None


def test_olmo2_keeps_stage1_and_olmo_does_not_take_stage_names() -> None:
    assert SCHEMES["olmo2"].parse("stage2-ingredient1-step1000-tokens5B") is None
    assert SCHEMES["olmo"].parse("stage1-step1000-tokens5B") is None
    ingredient = user_scheme(r"stage2-ingredient1-step(?P<step>\d+)-tokens(?P<tokens>\d+B)")
    assert ingredient.parse("stage2-ingredient1-step1000-tokens5B") == (1000, 5 * 10**9)


def test_known_repos_get_their_suite_and_its_tokens_per_step() -> None:
    cases = {
        "EleutherAI/pythia-70m-deduped": ("pythia", PYTHIA_TOKENS_PER_STEP),
        "allenai/OLMo-1B-hf": ("olmo", None),
        "allenai/OLMo-2-0425-1B": ("olmo2", None),
        "stanford-crfm/alias-gpt2-small-x21": ("crfm", 524_288),
        "llm360/amber": ("amber", 3_507_325_905),
    }
    for repo, (suite, per_step) in cases.items():
        scheme = scheme_for(repo, [])
        assert (scheme.name, scheme.tokens_per_step) == (suite, per_step), repo
    assert SCHEMES["amber"].tokens_per_step * 359 == pytest.approx(1259.13e9, rel=1e-9)


def test_unknown_repos_get_the_scheme_their_names_follow_without_tokens() -> None:
    scheme = scheme_for("me/run", ["main", "checkpoint-10", "checkpoint-20", "step5"])
    assert scheme.name == "crfm" and scheme.tokens_per_step is None
    ckpts, per_step = checkpoints_from_revisions(["checkpoint-20", "checkpoint-10"], scheme)
    assert per_step == 1 and [(c.step, c.tokens) for c in ckpts] == [(10, 10), (20, 20)]
    assert scheme_for("me/run", ["step1", "step2", "checkpoint-3"]).name == "pythia"
    with pytest.raises(SourceError, match=r"me/run: no revision .*pythia \(step"):
        scheme_for("me/run", ["main", "v1"])


def test_tokens_from_names_and_tokens_per_step_from_the_last_one() -> None:
    names = ["main", "step0-tokens0B", "step1000-tokens4B", "step20000-tokens84B"]
    ckpts, per_step = checkpoints_from_revisions(names, SCHEMES["olmo"])
    assert [c.step for c in ckpts] == [0, 1000, 20000]
    assert [c.tokens for c in ckpts] == [0, 4 * 10**9, 84 * 10**9]
    assert per_step == 4_200_000 and ckpts[1].revision == "step1000-tokens4B"
    # An override sets tokens per step; names still give each checkpoint its tokens.
    ckpts, per_step = checkpoints_from_revisions(names, SCHEMES["olmo"], tokens_per_step=7)
    assert per_step == 7 and ckpts[-1].tokens == 84 * 10**9
    ckpts, per_step = checkpoints_from_revisions(["ckpt_000", "ckpt_359"], SCHEMES["amber"])
    assert ckpts[-1].tokens == pytest.approx(1259.13e9, rel=1e-9) and ckpts[0].tokens == 0


def test_user_patterns() -> None:
    scheme = user_scheme(r"run1-(?P<step>\d+)-(?P<tokens>\d+M)")
    ckpts, per_step = checkpoints_from_revisions(["run1-100-50M", "run1-200-100M", "x"], scheme)
    assert [(c.step, c.tokens) for c in ckpts] == [(100, 50 * 10**6), (200, 100 * 10**6)]
    assert per_step == 500_000
    with pytest.raises(SourceError, match="no .*step"):
        user_scheme(r"run1-(\d+)")
    with pytest.raises(SourceError, match="unterminated subpattern"):
        user_scheme(r"run1-(")
    with pytest.raises(SourceError, match=r"'a-1' and 'b-1' are both step 1"):
        checkpoints_from_revisions(["a-1", "b-1"], user_scheme(r"[ab]-(?P<step>\d+)"))
    with pytest.raises(SourceError, match="me/x: no revisions named like"):
        checkpoints_from_revisions(["main"], scheme, what="me/x")


def test_parse_tokens() -> None:
    assert parse_tokens("84B") == 84 * 10**9 and parse_tokens("1.5T") == 1_500_000_000_000
    assert parse_tokens("512m") == 512 * 10**6 and parse_tokens("1000") == 1000
    with pytest.raises(SourceError, match="token count"):
        parse_tokens("lots")
