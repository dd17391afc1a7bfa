"""Circuit tasks: clean/corrupted prompt pairs with answer tokens and a metric, from data files.

A task is a JSON file (``data/tasks/circuits/*.json`` ships IOI, greater-than and successor;
a user adds a task by writing one more file, no code)::

    {"name": "ioi", "metric": "logit_diff", "prepend_bos": true,
     "examples": [{"clean": "When Mary and John went to the store, John gave a book to",
                   "corrupted": "When Anna and Paul went to the store, John gave a book to",
                   "answers": [" Mary"], "wrongs": [" John"]}, ...]}

Each answer and wrong string must be one token as written (leading space included). A pair is
kept only when clean and corrupted prompts tokenize to the same length (the graph's patching
is position by position) and every answer and wrong string is one ordinary token; the loader
counts what it drops. Kept pairs are right-padded into one batch and read at each prompt's last
real position: under causal attention nothing before the padding sees it, and the metric's
gradient is zero there, so padding changes neither the metric nor any edge score.

Metrics (:data:`TASK_METRICS`), per example from the final logits:

* ``logit_diff``: mean logit of the answers minus mean logit of the wrongs (IOI: IO - S);
* ``prob_diff``: total probability of the answers minus that of the wrongs (greater-than);
* ``logprob``: mean log-probability of the answers (wrongs unused).

A task counts as done at a checkpoint only when the clean metric beats the corrupted one by at
least the task's ``min_gap`` (a file field; default per metric, :data:`DEFAULT_MIN_GAP`) as
well as by the noise (:mod:`tracker.circuits.faithfulness`); before that no circuit is defined.
The defaults are a practical floor, far below what a model doing the task shows: on the
organism suite's largest model the final IOI gap is 1.2 logits, greater-than 0.42 in
probability, successor 24 logits; at initialisation they are 0.01-0.03 logits and 0.001.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tracker.circuits.attribution import Metric
from tracker.datafiles import data_dir
from tracker.models.tokens import word_tokens

#: Name -> (final logits (B, V), answer mask (B, V), wrong mask (B, V)) -> per example (B,).
TASK_METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "logit_diff": lambda logits, ans, wrong: (
        (logits * ans).sum(-1) / ans.sum(-1) - (logits * wrong).sum(-1) / wrong.sum(-1)),
    "prob_diff": lambda logits, ans, wrong: (
        (logits.softmax(-1) * (ans - wrong)).sum(-1)),
    "logprob": lambda logits, ans, wrong: (
        (logits.log_softmax(-1) * ans).sum(-1) / ans.sum(-1)),
}
#: Smallest clean - corrupted gap that counts as doing the task, per metric (metric units).
DEFAULT_MIN_GAP = {"logit_diff": 0.5, "prob_diff": 0.05, "logprob": 0.5}
#: Built-in tasks, by name: files under the data directory.
BUILTIN_TASKS = {name: f"tasks/circuits/{name}.json"
                 for name in ("ioi", "greater_than", "successor")}


class TaskError(ValueError):
    """A task file that cannot be used; the message names the file and the field."""


class NoExamplesError(TaskError):
    """A well-formed task none of whose pairs this tokenizer can use."""


@dataclass(frozen=True)
class CircuitTask:
    """Tokenized pairs of one task, ready for attribution and patching.

    Attributes:
        name: Task name.
        metric_name: Key of :data:`TASK_METRICS`.
        clean: (N, T) right-padded clean prompts.
        corrupt: (N, T) corrupted prompts, each the same length as its clean twin.
        last: (N,) index of each prompt's last real token.
        answers: Answer token ids per example.
        wrongs: Wrong token ids per example.
        n_dropped: Pairs of the file dropped for this tokenizer.
        min_gap: Smallest clean - corrupted metric gap that counts as doing the task.
    """

    name: str
    metric_name: str
    clean: torch.Tensor
    corrupt: torch.Tensor
    last: torch.Tensor
    answers: tuple[tuple[int, ...], ...]
    wrongs: tuple[tuple[int, ...], ...]
    n_dropped: int = 0
    min_gap: float = 0.0
    #: (which ids, vocab, device) -> (N, vocab) bool mask of every example's ids, built at
    #: the first metric call and kept: a sweep scores the same task at every checkpoint.
    _masks: dict[tuple[str, int, str], torch.Tensor] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @property
    def n_examples(self) -> int:
        """Kept pairs."""
        return int(self.clean.shape[0])

    def _mask(self, which: str, rows: torch.Tensor, vocab: int,
              device: torch.device) -> torch.Tensor:
        """(len(rows), vocab) float mask, 1 at the ``which`` ids (answers, wrongs) of each row."""
        key = (which, vocab, str(device))
        if key not in self._masks:
            ids = self.answers if which == "answers" else self.wrongs
            every = torch.zeros(len(ids), vocab, dtype=torch.bool)
            rows_of = [i for i, row in enumerate(ids) for _ in row]
            every[rows_of, [t for row in ids for t in row]] = True
            self._masks[key] = every.to(device)
        return self._masks[key][rows.to(device)].float()

    def metric(self) -> Metric:
        """Return the per-example metric on a batch's logits (rows index this task's examples)."""
        score = TASK_METRICS[self.metric_name]

        def metric(logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            rows = rows.to("cpu")
            final = logits[torch.arange(len(rows), device=logits.device),
                           self.last[rows].to(logits.device)].float()
            vocab = final.shape[-1]
            return score(final, self._mask("answers", rows, vocab, final.device),
                         self._mask("wrongs", rows, vocab, final.device))

        return metric

    def subset(self, n: int) -> CircuitTask:
        """Return the first ``n`` examples (all if fewer)."""
        keep = slice(0, min(n, self.n_examples))
        width = int(self.last[keep].max()) + 1 if self.n_examples else 0
        return CircuitTask(self.name, self.metric_name, self.clean[keep, :width],
                           self.corrupt[keep, :width], self.last[keep], self.answers[keep],
                           self.wrongs[keep], self.n_dropped, self.min_gap)


def task_path(task: str) -> Path:
    """Resolve a built-in task name or a task file path (relative to the data directory)."""
    rel = BUILTIN_TASKS.get(task, task)
    path = Path(rel) if Path(rel).is_absolute() else data_dir() / rel
    if not path.is_file():
        known = ", ".join(sorted(BUILTIN_TASKS))
        raise TaskError(f"task {task!r}: no file {path} (built-in tasks: {known})")
    return path


def _read(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise TaskError(f"{path}: cannot read task file ({err})") from err
    if not isinstance(body, dict):
        raise TaskError(f"{path}: a task file holds one JSON object")
    metric = body.get("metric")
    if metric not in TASK_METRICS:
        raise TaskError(f"{path}: field 'metric' is {metric!r}, not one of "
                        f"{', '.join(TASK_METRICS)}")
    examples = body.get("examples")
    if not isinstance(examples, list) or not examples:
        raise TaskError(f"{path}: field 'examples' must be a non-empty list")
    for i, ex in enumerate(examples):
        for key in ("clean", "corrupted", "answers"):
            if key not in ex:
                raise TaskError(f"{path}: examples[{i}] has no field {key!r}")
    return body


def load_task(task: str, tokenizer: Any, bos: int | None = None,
              n_examples: int | None = None) -> CircuitTask:
    """Load and tokenize a task (see the module docstring).

    Args:
        task: Built-in task name (``ioi``, ``greater_than``, ``successor``) or a file path.
        tokenizer: The series' tokenizer.
        bos: BOS id put in front of every prompt when the file asks for it (``prepend_bos``).
        n_examples: Keep at most this many pairs (the first ones kept, in file order).

    Raises:
        TaskError: Naming the file and field, for a malformed file.
        NoExamplesError: When no pair survives this tokenizer.
    """
    path = task_path(task)
    body = _read(path)
    prefix = [bos] if bos is not None and body.get("prepend_bos", True) else []
    clean: list[list[int]] = []
    corrupt: list[list[int]] = []
    answers: list[tuple[int, ...]] = []
    wrongs: list[tuple[int, ...]] = []
    dropped = 0
    examples = body["examples"]
    # Prompts in two batches and each distinct answer word once (a task file's thousands of
    # one-at-a-time encodes were most of the circuit probe's time on a small model).
    texts = tokenizer([ex[key] for key in ("clean", "corrupted") for ex in examples],
                      add_special_tokens=False)["input_ids"]
    cleans, corrupts = texts[: len(examples)], texts[len(examples):]
    ids = word_tokens(tokenizer, (w for ex in examples
                                  for w in [*ex["answers"], *ex.get("wrongs", [])]))
    for ex, clean_ids, corrupt_ids in zip(examples, cleans, corrupts, strict=True):
        c = prefix + list(clean_ids)
        r = prefix + list(corrupt_ids)
        ans = [ids[w] for w in ex["answers"]]
        wrong = [ids[w] for w in ex.get("wrongs", [])]
        if len(c) != len(r) or None in ans or None in wrong or not ans:
            dropped += 1
            continue
        if n_examples is not None and len(clean) >= n_examples:
            continue
        clean.append(c)
        corrupt.append(r)
        answers.append(tuple(int(a) for a in ans if a is not None))
        wrongs.append(tuple(int(w) for w in wrong if w is not None))
    if not clean:
        raise NoExamplesError(f"{path}: no example survives this tokenizer (equal clean/corrupted "
                        "length, single-token answers)")
    width = max(len(c) for c in clean)
    pad = int(getattr(tokenizer, "pad_token_id", None) or 0)
    tokens = torch.full((2, len(clean), width), pad, dtype=torch.long)
    for i, (c, r) in enumerate(zip(clean, corrupt, strict=True)):
        tokens[0, i, : len(c)] = torch.tensor(c)
        tokens[1, i, : len(r)] = torch.tensor(r)
    last = torch.tensor([len(c) - 1 for c in clean])
    min_gap = float(body.get("min_gap", DEFAULT_MIN_GAP[body["metric"]]))
    return CircuitTask(str(body.get("name", path.stem)), body["metric"], tokens[0], tokens[1],
                       last, tuple(answers), tuple(wrongs), dropped, min_gap)
