"""Circuits per checkpoint: EAP-IG edge scores, the minimal faithful circuit, its curve.

For each task (:mod:`tracker.circuits.tasks`: IOI, greater-than, successor, or a user's task
file) the probe scores every edge of the model's graph by EAP-IG (inputs), grows a circuit
greedily from the logits, and finds the smallest one whose normalised faithfulness reaches
the target (:mod:`tracker.circuits.faithfulness`), as Tigges et al. 2024 did over Pythia's
training. Per task ``T`` it stores, with prefix ``circuit_T_``:

* ``edge_scores`` (vector over edges): the EAP-IG score, an estimate of how the task metric
  moves when that edge alone reads the corrupted run (important edges are large in absolute
  value; sign kept). The edge names are stored once per series (``static`` ``edge_names``).
* ``in_circuit`` (vector): 1 for the minimal circuit's edges; NaN throughout where the model
  does not do the task yet (no circuit is defined, so similarity there is NaN, not 0).
* ``size`` and ``size_fraction``: edges in the minimal circuit and their fraction of the graph.
* ``faithfulness`` / ``faithfulness_ratio``: normalised faithfulness
  (circuit - corrupted) / (clean - corrupted) and Tigges et al.'s circuit / clean, at the
  minimal circuit;
* ``curve`` / ``curve_ratio`` (vectors over the config's fraction grid): the same for the
  greedy circuits holding each fraction of the edges;
* ``heads`` (head metric): 1 for heads that are nodes of the minimal circuit;
* ``clean_metric`` and ``corrupted_metric`` with standard errors; ``n_examples``.

For the IOI task the minimal circuit's heads are also given roles
(:mod:`tracker.circuits.roles`, Wang et al.'s tests): head metrics ``circuit_ioi_name_mover``
and ``circuit_ioi_s_inhibition`` (1 / 0, NaN without a circuit) with the evidence,
``circuit_ioi_copy_rate``, ``circuit_ioi_io_margin`` (attention from the end to IO minus the
larger of S1 and S2) and ``circuit_ioi_io_shift`` (how patching a head moves the name movers'
attention to IO). Induction, previous-token and successor roles come from those probes' own
head scores, joined with ``circuit_T_heads`` when read (:mod:`tracker.views`).

Faithfulness is NaN when the model does not do the task yet: the clean run must beat the
corrupted one by more than ``noise_multiple`` standard errors and by the task's ``min_gap``
(:mod:`tracker.circuits.tasks`); the size is then NaN too. Version 2 added the gap and the
direction (version 1 took any statistically separable difference, which at initialisation
found "circuits" of a 0.001 difference).
Version 3 builds the graph of every architecture from its adapter (GPT-2, Llama, OLMo 1 and 2
as well as GPT-NeoX; :mod:`tracker.circuits.split_forward`), where version 2 gave NaN
throughout for all but GPT-NeoX; GPT-NeoX values are unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracker.circuits.attribution import AttributionConfig, eap_ig_scores
from tracker.circuits.faithfulness import (
    FRACTIONS,
    SearchConfig,
    fraction_sizes,
    minimal_circuit,
)
from tracker.circuits.graph import CircuitGraph
from tracker.circuits.roles import RoleConfig, ioi_roles
from tracker.circuits.search import head_mask
from tracker.circuits.tasks import CircuitTask, NoExamplesError, load_task
from tracker.metric import Metric
from tracker.models.base import ArchitectureAdapter
from tracker.probes.base import Probe, ProbeConfig, ProbeValues
from tracker.probes.context import ProbeContext, bos_id
from tracker.probes.prompts import as_tuple
from tracker.probes.registry import register_probe

#: Default EAP-IG interpolation points: the plateau of agreement with exact patching (README).
DEFAULT_IG_STEPS = 5


@dataclass(frozen=True)
class CircuitConfig(ProbeConfig):
    """Config of the circuit probe.

    Attributes:
        tasks: Built-in task names or task file paths (relative to the data directory).
        n_examples: Pairs per task (the first kept ones of the file).
        ig_steps: EAP-IG interpolation points m.
        batch_size: Examples per forward pass.
        target: Normalised faithfulness the minimal circuit must reach.
        noise_multiple: Standard errors the clean - corrupted gap must exceed.
        fractions: Edge fractions of the stored faithfulness curve (ending at 1.0).
        tolerance: Relative bracket at which the minimal-size binary search stops.
        role_task: Task whose circuit gets IOI roles ('' for none).
        roles: Thresholds of the role tests.
    """

    tasks: tuple[str, ...] = ("ioi", "greater_than", "successor")
    n_examples: int = 64
    ig_steps: int = DEFAULT_IG_STEPS
    batch_size: int = 32
    target: float = 0.8
    noise_multiple: float = 2.0
    fractions: tuple[float, ...] = FRACTIONS
    tolerance: float = 0.02
    role_task: str = "ioi"
    roles: RoleConfig = RoleConfig()

    def __post_init__(self) -> None:
        if isinstance(self.roles, dict):
            object.__setattr__(self, "roles", RoleConfig(**self.roles))
        object.__setattr__(self, "tasks", as_tuple(self.tasks))
        object.__setattr__(self, "fractions", tuple(float(f) for f in as_tuple(self.fractions)))
        self.search()  # validates target, noise multiple, grid and tolerance

    def search(self) -> SearchConfig:
        """Return the circuit-search settings."""
        return SearchConfig(self.target, self.noise_multiple, self.fractions, self.tolerance)

    def attribution(self) -> AttributionConfig:
        """Return the attribution settings."""
        return AttributionConfig(ig_steps=self.ig_steps, batch_size=self.batch_size)


def task_slug(task: str) -> str:
    """Metric-name part of a task (a file path's stem)."""
    return task.rsplit("/", 1)[-1].removesuffix(".json")


@register_probe
class CircuitProbe(Probe[CircuitConfig]):
    """Minimal faithful circuits per task by EAP-IG (see the module docstring)."""

    name = "circuits"
    version = 3
    description = "task circuits: EAP-IG edge scores, minimal faithful circuit, faithfulness"
    Config = CircuitConfig

    def _graph(self, ctx: ProbeContext) -> CircuitGraph:
        return CircuitGraph.from_adapter(ctx.adapter)

    def metrics(self, ctx: ProbeContext) -> list[Metric]:
        """Per task: edge vectors, circuit size, faithfulness, curves, heads, task metrics."""
        n_edges, n_fr = self._graph(ctx).n_edges, len(self.config.fractions)
        grid = ", ".join(f"{f:g}" for f in self.config.fractions)
        out: list[Metric] = []
        for task in self.config.tasks:
            p = f"circuit_{task_slug(task)}_"
            out += [
                Metric(name=p + "edge_scores", kind="vector", shape=(n_edges,),
                       description=f"{task}: EAP-IG score per edge (static edge_names)",
                       higher_is_mechanism=None),
                Metric(name=p + "in_circuit", kind="vector", shape=(n_edges,),
                       description=f"{task}: 1 for edges of the minimal circuit, NaN if none",
                       higher_is_mechanism=None),
                Metric(name=p + "size", kind="scalar", higher_is_mechanism=None,
                       description=f"{task}: edges in the minimal circuit", resolution=1.0),
                Metric(name=p + "size_fraction", kind="scalar", higher_is_mechanism=None,
                       description=f"{task}: fraction of the graph's edges in it",
                       resolution=1.0 / n_edges),
                Metric(name=p + "faithfulness", kind="scalar", higher_is_mechanism=True,
                       description=f"{task}: (circuit - corrupted) / (clean - corrupted)"),
                Metric(name=p + "faithfulness_ratio", kind="scalar", higher_is_mechanism=True,
                       description=f"{task}: circuit / clean (Tigges et al.)"),
                Metric(name=p + "curve", kind="vector", shape=(n_fr,), higher_is_mechanism=None,
                       description=f"{task}: normalised faithfulness at edge fractions {grid}"),
                Metric(name=p + "curve_ratio", kind="vector", shape=(n_fr,),
                       higher_is_mechanism=None,
                       description=f"{task}: circuit / clean at edge fractions {grid}"),
                Metric(name=p + "heads", kind="head", higher_is_mechanism=True, threshold=0.5,
                       description=f"{task}: 1 for heads in the minimal circuit"),
                Metric(name=p + "clean_metric", kind="scalar", higher_is_mechanism=True,
                       description=f"{task}: task metric on clean prompts"),
                Metric(name=p + "corrupted_metric", kind="scalar", higher_is_mechanism=None,
                       description=f"{task}: task metric on corrupted prompts"),
                Metric(name=p + "n_examples", kind="scalar", higher_is_mechanism=None,
                       description=f"{task}: prompt pairs used"),
            ]
            out += [m.standard_error() for m in out[-3:-1]]
            if task == self.config.role_task:
                out += self._role_metrics(p)
        return out

    @staticmethod
    def _role_metrics(p: str) -> list[Metric]:
        return [
            Metric(name=p + "name_mover", kind="head", higher_is_mechanism=True, threshold=0.5,
                   resolution=1.0, description="1: name mover of the IOI circuit"),
            Metric(name=p + "s_inhibition", kind="head", higher_is_mechanism=True,
                   threshold=0.5, resolution=1.0,
                   description="1: S-inhibition head of the IOI circuit"),
            Metric(name=p + "copy_rate", kind="head", higher_is_mechanism=True,
                   description="fraction of IO/S names the head's OV ranks in the top k"),
            Metric(name=p + "io_margin", kind="head", higher_is_mechanism=True,
                   description="attention end -> IO minus max(end -> S1, end -> S2)"),
            Metric(name=p + "io_shift", kind="head", higher_is_mechanism=False,
                   description="change of name movers' attention to IO when the head's "
                   "q-edges into them read the corrupted run"),
        ]

    def static(self, ctx: ProbeContext) -> dict[str, np.ndarray]:
        """Return the graph's edge names (the order of every edge vector) and its shape.

        ``graph`` is (n_layers, n_heads, parallel) so readers can rebuild the graph.
        """
        graph = self._graph(ctx)
        return {"edge_names": np.array([e.name for e in graph.edges], dtype=object),
                "graph": np.array([graph.n_layers, graph.n_heads, int(graph.parallel)])}

    def _task(self, ctx: ProbeContext, task: str) -> CircuitTask | None:
        def build() -> CircuitTask | None:
            try:
                loaded = load_task(task, ctx.tokenizer, bos_id(ctx.adapter, ctx.tokenizer),
                                   self.config.n_examples)
            except NoExamplesError:
                return None
            device = ctx.device
            return CircuitTask(loaded.name, loaded.metric_name, loaded.clean.to(device),
                               loaded.corrupt.to(device), loaded.last, loaded.answers,
                               loaded.wrongs, loaded.n_dropped, loaded.min_gap)

        return ctx.memo(f"circuit-task:{task}:{self.config.n_examples}", build)

    def run(self, ctx: ProbeContext) -> ProbeValues:
        """Score, search and judge the circuit of every task."""
        graph = self._graph(ctx)
        if ctx.tokenizer is None:
            return self.missing(ctx)
        out: dict[str, Any] = {}
        for task in self.config.tasks:
            out.update(self._run_task(ctx, graph, ctx.adapter, task))
        return out

    def _run_task(self, ctx: ProbeContext, graph: CircuitGraph, adapter: ArchitectureAdapter,
                  task_name: str) -> dict[str, Any]:
        cfg, p = self.config, f"circuit_{task_slug(task_name)}_"
        task = self._task(ctx, task_name)
        if task is None:  # this tokenizer cannot render the task: nothing to measure
            nothing = self.missing(ctx, **{p + "n_examples": 0.0})
            return {k: v for k, v in nothing.items() if k.startswith(p)}
        metric = task.metric()
        scores = eap_ig_scores(graph, adapter, task.clean, task.corrupt, metric,
                               cfg.attribution())
        search = dataclasses.replace(cfg.search(), min_gap=task.min_gap)
        found = minimal_circuit(graph, adapter, task.clean, task.corrupt, metric, scores, search,
                                cfg.batch_size)
        curve = found.curve
        at = {int(s): i for i, s in enumerate(curve.requested)}
        rows = [at[int(s)] for s in fraction_sizes(graph, cfg.fractions)]
        defined = found.size >= 0
        minimal = at.get(found.size)
        n = task.n_examples
        roles = self._roles(graph, adapter, task, found.mask if defined else None) \
            if task_name == cfg.role_task else {}
        return roles | {
            p + "edge_scores": scores,
            p + "in_circuit": found.mask.astype(np.float32) if defined
            else np.full(graph.n_edges, np.nan),
            p + "size": found.kept if defined else math.nan,
            p + "size_fraction": found.kept / graph.n_edges if defined else math.nan,
            p + "faithfulness": curve.normalised[minimal] if minimal is not None else math.nan,
            p + "faithfulness_ratio": curve.ratio[minimal] if minimal is not None else math.nan,
            p + "curve": curve.normalised[rows],
            p + "curve_ratio": curve.ratio[rows],
            p + "heads": head_mask(graph, found.mask).astype(np.float32) if defined
            else np.full((graph.n_layers, graph.n_heads), np.nan),
            p + "clean_metric": curve.clean, p + "clean_metric_se": curve.clean_se,
            p + "corrupted_metric": curve.corrupted,
            p + "corrupted_metric_se": curve.corrupted_se,
            p + "n_examples": float(n),
        }

    def _roles(self, graph: CircuitGraph, adapter: ArchitectureAdapter, task: CircuitTask,
               circuit: np.ndarray | None) -> dict[str, np.ndarray]:
        p = f"circuit_{task_slug(self.config.role_task)}_"
        names = ("name_mover", "s_inhibition", "copy_rate", "io_margin", "io_shift")
        if circuit is None:
            return {p + k: np.full((graph.n_layers, graph.n_heads), np.nan) for k in names}
        found = ioi_roles(adapter, graph, task, circuit, self.config.roles)
        nm, si = found.name_movers, found.s_inhibition
        values = (nm.label, si.label, nm.copy_rate,
                  nm.attn_io - np.maximum(nm.attn_s1, nm.attn_s2), si.io_shift)
        return {p + k: np.asarray(v, dtype=np.float32) for k, v in zip(names, values,
                                                                      strict=True)}
