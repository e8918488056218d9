#!/usr/bin/env bash
# Set everything up (a .venv in the project, with the dev extra) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv "[dev]"
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
# pytest exits 5 when it collected no test: that fails this script too, as it should.
exec .venv/bin/python -m pytest -q "$@"
