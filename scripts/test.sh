#!/usr/bin/env bash
# Set up (if needed) and run the test suite. Extra arguments go to pytest; a run without any
# (the full suite, as CI runs it) first checks lint (ruff) and types (mypy, config in
# pyproject.toml), then proves the wheel with scripts/check_wheel.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The report test renders pages in Debian's chromium; install it where we may (root, apt).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test: installing chromium for the report browser test" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "test: chromium install failed; the browser test will be skipped" >&2
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=offline
if [ $# -eq 0 ]; then
  # Before pytest, so pytest's summary stays the last line of the run.
  .venv/bin/ruff check tracker tests scripts
  .venv/bin/mypy
  bash scripts/check_wheel.sh
fi
exec .venv/bin/python -m pytest -q "$@"
