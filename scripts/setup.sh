#!/usr/bin/env bash
# Idempotent set-up: a virtualenv in .venv with CPU torch installed first (a bare torch
# requirement would pull a multi-GB CUDA build), then tracker with its extras.
# Override the torch pin with TORCH_SPEC (e.g. TORCH_SPEC="torch==2.13.0" or a CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
EXTRAS=${TRACKER_EXTRAS:-dev}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
stamp=.venv/.tracker-installed
want="$(cat pyproject.toml setup.py) $TORCH_SPEC $EXTRAS"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c "import tracker, torch" 2>/dev/null; then
  exit 0
fi
"${PIP[@]}" install --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "setup: installing $TORCH_SPEC" >&2
  "${PIP[@]}" install "$TORCH_SPEC" 2>&1 | grep -v "^WARNING: Location" || true
fi
echo "setup: installing tracker[$EXTRAS]" >&2
"${PIP[@]}" install -e ".[$EXTRAS]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import tracker, torch" || { echo "setup: install failed" >&2; exit 1; }
printf '%s' "$want" > "$stamp"
