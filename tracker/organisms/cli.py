"""``tracker organisms``: train, list and locate the embedded model-organism suites."""

from __future__ import annotations

import argparse

from tracker.organisms.api import ROOT_ENV, SuiteInfo, default_root, suite_info, train_suite
from tracker.organisms.suite import suite_names


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``organisms`` command and its sub-commands."""
    parser = subparsers.add_parser(
        "organisms",
        help="train / locate the embedded model-organism checkpoint suites",
        description=(
            "Small GPT-NeoX models (or, in the -llama suites, the same family as Llama "
            "models) trained on a generated corpus, saved on a Pythia-style "
            f"schedule into a hub-layout cache. Artifacts go under --root (default: ${ROOT_ENV} "
            f"or {default_root()})."
        ),
    )
    sub = parser.add_subparsers(dest="organisms_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--suite", default="default", choices=suite_names(),
                       help="suite to use (default: default)")
        p.add_argument("--root", help=f"artifact root (default: ${ROOT_ENV} or {default_root()})")

    train = sub.add_parser("train", help="train the suite (resumes; returns at once if done)")
    common(train)
    train.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    train.add_argument("--stop-after", type=int, metavar="N",
                       help="stop each model after N new checkpoints (simulates a kill)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=_train)

    listing = sub.add_parser("list", help="list the suite's models and their state")
    common(listing)
    listing.set_defaults(func=_list)

    path = sub.add_parser("path", help="print the hub cache dir to pass as --cache-dir")
    common(path)
    path.set_defaults(func=_path)


def _train(args: argparse.Namespace) -> int:
    info = train_suite(args.suite, args.root, threads=args.threads, stop_after=args.stop_after,
                       progress=not args.quiet)
    if not info.results:
        print(f"suite {info.name!r} already trained under {info.root}")
    for result in info.results:
        if result.cached:
            print(f"{result.repo_id}: cached")
        else:
            state = "done" if result.complete else f"stopped at step {result.end_step}"
            print(f"{result.repo_id}: steps {result.start_step}->{result.end_step} ({state}) "
                  f"in {result.seconds:.1f}s, {result.tokens_per_second:,.0f} tokens/s")
    if info.results:
        print(f"wall time {info.wall_seconds:.1f}s")
    _print_models(info)
    return 0


def _list(args: argparse.Namespace) -> int:
    _print_models(suite_info(args.suite, args.root))
    return 0


def _path(args: argparse.Namespace) -> int:
    print(suite_info(args.suite, args.root).cache_dir)
    return 0


def _print_models(info: SuiteInfo) -> None:
    print(f"suite {info.name}: cache {info.cache_dir}")
    print(f"{'repo id':32} {'arch':>8} {'size':>4} {'seed':>4} {'layers':>6} {'d_model':>7} "
          f"{'ckpts':>5} {'steps':>6} {'tok/step':>8} {'train s':>8} {'tok/s':>7}  state")
    for m in info.models:
        state = "complete" if m.complete else "not trained"
        # Speed as measured when the model was trained (training steps only, no checkpoints).
        speed = f"{m.tokens_per_second:>7,.0f}" if m.tokens_per_second else f"{'-':>7}"
        print(f"{m.repo_id:32} {m.architecture:>8} {m.size:>4} {m.seed:>4} {m.n_layers:>6} "
              f"{m.d_model:>7} {len(m.steps):>5} {m.steps[-1]:>6} {m.tokens_per_step:>8} "
              f"{m.train_seconds:>8.1f} {speed}  {state}")
