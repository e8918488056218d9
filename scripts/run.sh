#!/usr/bin/env bash
# Set everything up (a .venv in the project) and run the main job on the embedded default:
# ingest the seeds into the local Chroma index, then answer a question with citations.
# Usage: bash scripts/run.sh ["question"]   (offline by default; uses an LLM if OPENAI_API_KEY/OPENAI_BASE_URL is set)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv ""
.venv/bin/rag ingest
.venv/bin/rag ask "${1:-How can I serve a large language model with less GPU memory?}"
