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
    .venv/bin/python -m pip install -q -e ".${extras}"
    touch "$stamp"
  fi
}
