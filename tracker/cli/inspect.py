"""``tracker show``, ``tracker validate`` and ``tracker probes``."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np


def register(sub: Any) -> None:
    """Add the inspection commands."""
    show = sub.add_parser("show", help="print what a store holds")
    show.add_argument("store")
    show.set_defaults(func=run_show)
    validate = sub.add_parser("validate", help="check a store against schemas/store.schema.json")
    validate.add_argument("store")
    validate.set_defaults(func=run_validate)
    probes = sub.add_parser("probes", help="list the registered probes")
    probes.set_defaults(func=run_probes)


def run_show(args: argparse.Namespace) -> int:
    """Print series, steps, probes, metrics and shapes."""
    from tracker.store import SeriesStore

    store = SeriesStore(args.store)
    steps = store.steps
    print(f"store     {store.path}")
    print(f"series    {store.series_id}  (schema {store.attrs['schema_version']}, "
          f"tracker {store.attrs['package_version']})")
    print(f"tokens    {store.tokens_per_step:,} per step")
    span = f"{steps[0]} .. {steps[-1]}" if len(steps) else "none"
    print(f"steps     {len(steps)} checkpoints, {span}")
    if store.repeated_weights.any():
        dup = steps[store.repeated_weights].tolist()
        print(f"warning   identical weights to the previous checkpoint at steps {dup}")
    for probe, key in store.variants():
        attrs = store.variant_attrs(probe, key)
        present = int(np.sum(attrs["present"]))
        print(f"probe     {probe} {key}  ({present}/{len(steps)} steps)  {attrs['config_json']}")
        for info in store.metric_infos(probe):
            if info.key != key:
                continue
            shape = "x".join(str(d) for d in (len(steps), *info.shape))
            print(f"  metric  {info.name:<24} {info.kind:<7} {shape:<12} {info.description}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    """Validate a store file; print each violation by path; exit 1 if any."""
    from tracker.store.validate import validate_file

    problems = validate_file(args.store)
    if problems:
        for problem in problems:
            print(f"{args.store}:{problem}")
        print(f"{args.store}: INVALID ({len(problems)} problems)")
        return 1
    print(f"{args.store}: valid")
    return 0


def run_probes(args: argparse.Namespace) -> int:
    """List probes with version and what each measures."""
    from tracker.probes import probe_class, probe_names

    for name in probe_names():
        cls = probe_class(name)
        print(f"{name:<16} v{cls.version}  {cls.description}")
    return 0
