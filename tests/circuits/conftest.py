"""The planted induction task that circuit tests share."""

import random
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from tests.support.planted_models import FILLERS, Planted, circuits_model
from tracker.circuits import CircuitGraph, Metric, exact_edge_scores
from tracker.models import ArchitectureAdapter, get_adapter

#: The planted circuit: previous-token head L0H0 into the induction head L1H0's key, the token
#: into L1H0's value (and L0H0's), L1H0 into the logits.
INDUCTION = {"input->L0H0.v", "L0H0->L1H0.k", "input->L1H0.v", "L1H0->logits"}


@dataclass
class InductionTask:
    """A B C D A B C -> D on the planted model; corrupted: a first half with no repeat."""

    adapter: ArchitectureAdapter
    graph: CircuitGraph
    clean: torch.Tensor
    corrupt: torch.Tensor
    metric: Metric

    def args(self) -> tuple:
        return self.graph, self.adapter, self.clean, self.corrupt, self.metric


def induction_task_on(planted: Planted) -> InductionTask:
    """The planted induction task on ``planted`` (any architecture), six prompt pairs."""
    rng = random.Random(0)
    bos = planted.model.config.bos_token_id
    clean, corrupt, answer = [], [], []
    for _ in range(6):
        words = rng.sample(FILLERS, 9)
        clean.append([bos] + [planted.id(w) for w in words[:4] + words[:3]])
        corrupt.append([bos] + [planted.id(w) for w in words[4:8] + words[:3]])
        answer.append(planted.id(words[3]))
    answers = torch.tensor(answer)

    def metric(logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Log-probability of the answer at the last position."""
        return logits[:, -1].log_softmax(-1)[torch.arange(len(rows)), answers[rows]]

    adapter = get_adapter(planted.model)
    return InductionTask(adapter, CircuitGraph.from_adapter(adapter),
                         torch.tensor(clean), torch.tensor(corrupt), metric)


@pytest.fixture(scope="session")
def induction_task() -> InductionTask:
    return induction_task_on(circuits_model())


@pytest.fixture(scope="session")
def induction_exact_scores(induction_task: InductionTask) -> np.ndarray:
    return exact_edge_scores(*induction_task.args())
