#!/usr/bin/env bash
# Set everything up (a .venv in the project) and run the main job on the embedded default:
# ingest the seeds into the local Chroma index, then search it.  Usage: bash scripts/run.sh ["query"]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv ""
.venv/bin/rag ingest
.venv/bin/rag search "${1:-How can I serve a large language model with less GPU memory?}" -k 5
