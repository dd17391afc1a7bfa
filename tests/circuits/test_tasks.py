"""Circuit tasks from data files: tokenizing, dropping uneven pairs, metrics, errors."""

import json
from pathlib import Path

import pytest
import torch

from tests.support.planted_models import word_tokenizer
from tracker.circuits.tasks import BUILTIN_TASKS, TaskError, load_task, task_path

WORDS = ["When", "Mary", "John", "Anna", "Paul", "left", ",", "gave", "it", "to", "big", "Tom"]


def _write(tmp_path: Path, body: dict) -> Path:
    path = tmp_path / "task.json"
    path.write_text(json.dumps(body))
    return path


def _task_body(**overrides: object) -> dict:
    body = {"name": "mini", "metric": "logit_diff", "prepend_bos": True, "examples": [
        {"clean": "When Mary and John left , John gave it to",
         "corrupted": "When Anna and Paul left , John gave it to",
         "answers": [" Mary"], "wrongs": [" John"]},
        # Uneven: the corrupted prompt is one token longer.
        {"clean": "When Mary left , John gave it to",
         "corrupted": "When big Anna left , John gave it to",
         "answers": [" Mary"], "wrongs": [" John"]},
        {"clean": "When John left , Mary gave it",
         "corrupted": "When Paul left , Mary gave it",
         "answers": [" John", " Tom"], "wrongs": [" Mary"]},
    ]}
    body.update(overrides)
    return body


def test_a_user_task_file_loads_padded_with_uneven_pairs_dropped(tmp_path: Path) -> None:
    tok = word_tokenizer(WORDS + ["and"])
    task = load_task(str(_write(tmp_path, _task_body())), tok, bos=0)
    assert (task.name, task.n_examples, task.n_dropped) == ("mini", 2, 1)
    assert task.clean.shape == task.corrupt.shape == (2, 11)
    assert task.last.tolist() == [10, 7]
    assert task.clean[0, 0] == 0 and task.clean[0, 2] == tok.convert_tokens_to_ids("Mary")
    assert task.answers[1] == tuple(tok.convert_tokens_to_ids(["John", "Tom"]))
    assert load_task(str(_write(tmp_path, _task_body())), tok, bos=0, n_examples=1).n_examples == 1
    assert task.min_gap == 0.5  # the logit difference's default
    assert load_task(str(_write(tmp_path, _task_body(min_gap=2))), tok, bos=0).min_gap == 2.0


@pytest.mark.parametrize("name, expected", [
    # Example 0: answer logit 2, wrong 5; example 1: answers 1 and 3, wrong 0.
    ("logit_diff", [2 - 5, (1 + 3) / 2 - 0]),
    ("logprob", [2, 2]),
])
def test_metrics_read_each_prompts_last_real_position(tmp_path: Path, name: str,
                                                      expected: list[float]) -> None:
    tok = word_tokenizer(WORDS + ["and"])
    task = load_task(str(_write(tmp_path, _task_body(metric=name))), tok, bos=0)
    ids = {w: tok.convert_tokens_to_ids(w) for w in ("Mary", "John", "Tom")}
    logits = torch.full((2, 11, len(tok)), -50.0)
    logits[0, 10, ids["Mary"]], logits[0, 10, ids["John"]] = 2.0, 5.0
    logits[1, 7, ids["John"]], logits[1, 7, ids["Tom"]], logits[1, 7, ids["Mary"]] = 1, 3, 0
    logits[1, 10] = 99.0  # padding: must not be read
    value = task.metric()(logits, torch.arange(2))
    if name == "logprob":  # log-softmax shifts by the logsumexp of the row
        expected = [2 - torch.logsumexp(logits[0, 10], 0).item(),
                    2 - torch.logsumexp(logits[1, 7], 0).item()]
    torch.testing.assert_close(value, torch.tensor(expected), atol=1e-4, rtol=0)


def test_metric_rows_pick_their_examples_in_any_order_and_repeat(tmp_path: Path) -> None:
    # The answer and wrong masks are built once per task and gathered by row: a batch's rows
    # may come in any order and repeat, and a second call reads the same masks.
    tok = word_tokenizer(WORDS + ["and"])
    task = load_task(str(_write(tmp_path, _task_body())), tok, bos=0)
    ids = {w: tok.convert_tokens_to_ids(w) for w in ("Mary", "John", "Tom")}
    rows = torch.tensor([1, 0, 1])
    logits = torch.zeros(3, 11, len(tok))
    for i, row in enumerate(rows.tolist()):
        at = task.last[row]
        logits[i, at, ids["Mary"]], logits[i, at, ids["John"]] = 10.0 * i, 1.0
        logits[i, at, ids["Tom"]] = 4.0
    # Example 1: answers John and Tom, wrong Mary; example 0: answer Mary, wrong John.
    expected = torch.tensor([(1 + 4) / 2 - 0, 10 - 1, (1 + 4) / 2 - 20])
    metric = task.metric()
    torch.testing.assert_close(metric(logits, rows), expected)
    torch.testing.assert_close(task.metric()(logits[[1]], torch.tensor([0])), expected[[1]])
    assert len(task._masks) == 2  # answers and wrongs at this vocabulary, kept


def test_prob_diff_is_answer_mass_minus_wrong_mass(tmp_path: Path) -> None:
    tok = word_tokenizer(WORDS + ["and"])
    task = load_task(str(_write(tmp_path, _task_body(metric="prob_diff"))), tok, bos=0)
    logits = torch.randn(2, 11, len(tok))
    probs = logits[0, 10].softmax(-1)
    mary, john = tok.convert_tokens_to_ids(["Mary", "John"])
    value = task.metric()(logits, torch.tensor([0, 1]))
    assert value[0].item() == pytest.approx((probs[mary] - probs[john]).item(), abs=1e-6)


@pytest.mark.parametrize("body, message", [
    ({"metric": "accuracy", "examples": [{}]}, "field 'metric'"),
    ({"metric": "logit_diff", "examples": []}, "field 'examples'"),
    ({"metric": "logit_diff", "examples": [{"clean": "a", "answers": []}]},
     "examples[0] has no field 'corrupted'"),
])
def test_a_malformed_task_file_is_one_error_naming_file_and_field(
        tmp_path: Path, body: dict, message: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(TaskError, match=str(path)) as err:
        load_task(str(path), word_tokenizer(WORDS), bos=0)
    assert message in str(err.value)


def test_no_surviving_example_and_unknown_task_are_errors(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="no example survives"):
        load_task(str(_write(tmp_path, _task_body())), word_tokenizer(["When"]), bos=0)
    with pytest.raises(TaskError, match="built-in tasks: greater_than, ioi, successor"):
        task_path("sentiment")


@pytest.mark.parametrize("name", sorted(BUILTIN_TASKS))
def test_built_in_tasks_ship_pairs_with_a_known_metric(name: str) -> None:
    body = json.loads(task_path(name).read_text())
    assert body["name"] == name and len(body["examples"]) == 200
    assert body["metric"] == ("prob_diff" if name == "greater_than" else "logit_diff")
    for ex in body["examples"]:
        assert ex["clean"] != ex["corrupted"] and set(ex["answers"]).isdisjoint(ex["wrongs"])
