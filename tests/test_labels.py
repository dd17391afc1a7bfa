import math

import pytest

from tracker.errors import TrackerError
from tracker.labels import (
    HeadId,
    default_group,
    format_tokens,
    head_label,
    model_size,
    order_series,
    short_series,
    slug,
)


def test_head_id_label_is_canonical() -> None:
    assert HeadId(1, 3).label == "L1H3"
    assert str(HeadId(12, 0)) == "L12H0"
    assert head_label(1, 3) == "L1H3"
    assert head_label(-1, -1) == ""  # a model-level value has no head


@pytest.mark.parametrize("text", ["L1H3", "l1h3", "L1.H3", "L1-H3", " L1H3 "])
def test_head_id_parse_accepts_canonical_and_copied_forms(text: str) -> None:
    assert HeadId.parse(text) == HeadId(1, 3)


@pytest.mark.parametrize("text", ["1.3", "L1", "H3", "L1H", "LxHy", "L1H3x", ""])
def test_head_id_parse_rejects_other_text(text: str) -> None:
    with pytest.raises(TrackerError, match="expected a label like L1H3"):
        HeadId.parse(text)


def test_head_id_round_trips_and_orders() -> None:
    heads = [HeadId(layer, head) for layer in range(3) for head in range(4)]
    assert [HeadId.parse(h.label) for h in heads] == heads
    assert [HeadId.from_flat(i, 4) for i in range(12)] == heads
    assert sorted([HeadId(1, 0), HeadId(0, 3), HeadId(0, 1)]) == [
        HeadId(0, 1), HeadId(0, 3), HeadId(1, 0)]


@pytest.mark.parametrize(("n", "text"), [
    (0, "0"), (512, "512"), (999, "999"), (1000, "1K"), (1536, "1.5K"), (2_100_000, "2.1M"),
    (12_345_678, "12M"), (300e9, "300B"), (1.2e12, "1.2T"), (2e9, "2B"), (-2_000_000, "-2M"),
])
def test_format_tokens(n: float, text: str) -> None:
    assert format_tokens(n) == text


def test_format_tokens_of_a_missing_value() -> None:
    assert format_tokens(math.nan) == "–"
    assert format_tokens(math.inf) == "–"


def test_series_names() -> None:
    assert short_series("EleutherAI/pythia-70m") == "pythia-70m"
    assert slug("EleutherAI/pythia 70m") == "EleutherAI-pythia-70m"
    assert model_size("EleutherAI/pythia-1.4b") == pytest.approx(1.4e9)
    assert model_size("organisms/tiny-xs-seed0") is None
    assert order_series(["x/pythia-1b", "x/pythia-70m", "x/other", "x/pythia-410m"]) == [
        "x/pythia-70m", "x/pythia-410m", "x/pythia-1b", "x/other"]
    assert default_group(["EleutherAI/pythia-70m", "EleutherAI/pythia-160m"]) == "pythia"
