import pytest

from tracker.errors import SourceError
from tracker.sources import pythia_like_steps, pythia_steps, select_steps


def test_pythia_schedule_has_154_steps_with_log_then_linear_spacing():
    steps = pythia_steps()
    assert len(steps) == 154
    assert steps[:12] == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]
    assert steps[-2:] == [142000, 143000]
    assert all(b - a == 1000 for a, b in zip(steps[11:], steps[12:], strict=False))


def test_pythia_like_schedule_is_log_then_even():
    steps = pythia_like_steps(2000, n_linear=20)
    assert steps[:8] == [0, 1, 2, 4, 8, 16, 32, 64]
    assert steps[-1] == 2000
    assert steps[-20:] == list(range(100, 2001, 100))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, [0, 1, 2, 4, 8, 1000, 2000, 3000]),
        ("all", [0, 1, 2, 4, 8, 1000, 2000, 3000]),
        ("0,8,3000", [0, 8, 3000]),
        ("2:1000", [2, 4, 8, 1000]),
        ("0:3000:3", [0, 4, 2000]),
        ("every:4", [0, 8]),
        ("first:2", [0, 1]),
        ("last:2", [2000, 3000]),
    ],
)
def test_select_steps(spec, expected):
    assert select_steps([0, 1, 2, 4, 8, 1000, 2000, 3000], spec) == expected


def test_log_subset_keeps_ends_and_spreads_on_log_axis():
    chosen = select_steps(pythia_steps(), "log:10")
    assert len(chosen) == 10
    assert chosen[0] == 0 and chosen[-1] == 143000
    assert 1000 < chosen[-2] < 143000 and chosen[1] <= 4


@pytest.mark.parametrize("spec", ["7", "every:x", "log:0", "a-b"])
def test_bad_specs_name_the_problem(spec):
    with pytest.raises(SourceError, match="--steps"):
        select_steps([0, 1, 2], spec)
