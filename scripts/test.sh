#!/usr/bin/env bash
# Set everything up (a .venv in the project, with the dev, llm-local, st and mcp extras: llm-local is llama.cpp's
# server as a prebuilt wheel; st brings CPU torch and MiniLM so the tests cover that embedder too; mcp the MCP
# tools' tests), run the test suite on every core (pytest-xdist), then the eval gate:
# the golden questions through the offline pipeline on a fresh index, compared with eval/baseline.json
# (exit 1 when a metric got worse than eval/tolerances.json allows). Reports go to artifacts/eval/.
# Arguments go to pytest; with arguments (a subset of tests) the gate is skipped. A plain `pytest` is the fast tier.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv "[dev,llm-local,st,mcp]"
apt_install() {  # apt_install PACKAGE WHY: Debian's package, when apt-get can install it (root)
  command -v apt-get >/dev/null 2>&1 || { echo "no apt-get: install $1 yourself ($2)" >&2; return 0; }
  echo "installing Debian's $1 ($2)" >&2
  { [ -n "${APT_UPDATED:-}" ] || apt-get update -qq; } && APT_UPDATED=1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null ||
    echo "could not install $1 (not root?): $2 will fail" >&2
}
# llama.cpp's prebuilt server (xllamacpp) links the system's OpenMP runtime.
ldconfig -p 2>/dev/null | grep -q libgomp.so.1 || apt_install libgomp1 "the LLM tests"
# The browser tests drive Debian's chromium; only when they run (every test, or a selection naming them).
if [ ! -x /usr/bin/chromium ] && { [ "$#" -eq 0 ] || [[ "$*" == *browser* ]]; }; then
  apt_install chromium "the browser tests (about 70 s)"
fi
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
# One embedding cache for the tests (all workers) and the gate after them, kept between runs like pip's cache:
# MiniLM embeds each seed text once per machine (entries are keyed by the embedder and the exact text, so a
# changed seed or model is embedded anew). TESTS_EMBED_CACHE_DIR=$(mktemp -d) runs cold.
export TESTS_EMBED_CACHE_DIR="${TESTS_EMBED_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rag-papers/test-embed-cache}"
mkdir -p "$TESTS_EMBED_CACHE_DIR"
# Every tier (cli, server, browser, slow): -m "" lifts the fast-loop selection of pyproject's addopts; a -m in the
# arguments comes later and wins. -n: one worker per core (pytest-xdist); --durations: the slowest tests, in every
# run's output. pytest exits 5 when it collected no test: that fails this script too, as it should.
.venv/bin/python -m pytest -q -m "" -n "${TEST_WORKERS:-$(nproc)}" --dist worksteal --durations=25 "$@"
if [ "$#" -eq 0 ]; then
  # the gate judges the offline pipeline only: no LLM endpoint may leak in from the environment
  env -u OPENAI_API_KEY -u OPENAI_BASE_URL RAG_EMBED_CACHE_DIR="$TESTS_EMBED_CACHE_DIR" \
    .venv/bin/rag eval --json artifacts/eval/report.json --html artifacts/eval/report.html
fi
