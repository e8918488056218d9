#!/usr/bin/env bash
# Set everything up (a .venv in the project) and run the main job on the embedded default:
# ingest the seeds into the local Chroma index, then
#   bash scripts/run.sh "question"   answer the question with citations in the terminal, or
#   bash scripts/run.sh              open the web app at http://127.0.0.1:7860 (Ctrl-C stops it).
# Offline by default; uses an LLM if OPENAI_API_KEY/OPENAI_BASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv ""
.venv/bin/rag ingest --rebuild-if-mismatched  # an index of an older default embedder is rebuilt, saying so
if [ $# -gt 0 ]; then
  exec .venv/bin/rag ask "$1"
fi
exec .venv/bin/rag serve
