#!/usr/bin/env bash
# Set everything up (a .venv in the project, with the dev and llm-local extras) and run the test suite.
# The llm-local extra builds llama.cpp from source the first time (about 9 min on 2 cores; pip caches it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv "[dev,llm-local]"
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
# pytest exits 5 when it collected no test: that fails this script too, as it should.
exec .venv/bin/python -m pytest -q "$@"
