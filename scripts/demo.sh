#!/usr/bin/env bash
# The main job: set up (if needed), train or reuse the model-organism suite, sweep every model
# with every probe, detect emergence events, and write the HTML report.
# Extra arguments go to `tracker demo` (e.g. --suite tiny for a one-minute run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/tracker demo "$@"
