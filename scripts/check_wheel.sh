#!/usr/bin/env bash
# Prove the wheel: build it from the working tree, install it into a fresh virtualenv (CPU torch
# first: a bare torch requirement would pull a multi-GB CUDA build), and run the tiny demo from
# a folder outside the repository, so anything the wheel lacks (package data included) fails
# here rather than for a user. All output of the run goes to a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
unset PYTHONPATH  # the installed wheel alone must be importable
work=$(mktemp -d "${TMPDIR:-/tmp}/tracker-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS
pip=(--disable-pip-version-check -q)

"$PYTHON" -m venv "$work/venv"
py="$work/venv/bin/python"
quiet() { "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }

# Build from a copy of the files git would commit: setuptools reuses an in-tree build/ folder,
# where modules deleted from the source would survive into the wheel.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard \
  | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ \
  | tar --null -T - -cf - | tar -xf - -C "$work/src"
quiet "$py" -m pip "${pip[@]}" wheel --no-deps -w "$work/dist" "$work/src"
wheel=$(ls "$work"/dist/tracker-*.whl)
echo "check_wheel: built $(basename "$wheel") ($((SECONDS - started))s)" >&2
quiet "$py" -m pip "${pip[@]}" install "$TORCH_SPEC"
# The demo ends in the HTML report, whose figures need the plot extra.
quiet "$py" -m pip "${pip[@]}" install "${wheel}[plot]"
echo "check_wheel: installed into a fresh virtualenv ($((SECONDS - started))s)" >&2

mkdir "$work/run" && cd "$work/run"
"$py" -c "import tracker; assert tracker.__file__.startswith('$work/venv'), tracker.__file__"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=offline
"$work/venv/bin/tracker" demo --suite tiny --root "$work/organisms" --out "$work/out" --no-progress
test -s "$work/out/report/index.html"
for store in "$work"/out/stores/*.h5; do
  "$work/venv/bin/tracker" validate "$store"
done
echo "check_wheel: the wheel installs and runs the tiny demo ($((SECONDS - started))s)" >&2
