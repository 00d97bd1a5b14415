#!/usr/bin/env bash
# Set up citeqa, idempotently, in one of two profiles:
#
#   scripts/setup.sh          what `make run` needs for the default (extractive) mode: .venv with torch
#                             (CPU) first, the project, and the embedding model (its weights converted
#                             to bfloat16 once). No compiler run, no chat model.
#   scripts/setup.sh --test   also the test tools, llama-cpp-python (built once with portable flags and
#                             cached in the cache's wheels/) and the local chat model, so `make test`
#                             runs the generative mode for real.
#
# A second run only compares a stamp and checks the models' markers: a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=run
case "${1:-}" in
  "") ;;
  --test) PROFILE=test ;;
  *) echo "usage: scripts/setup.sh [--test]" >&2; exit 2 ;;
esac
CACHE_DIR=${CITEQA_CACHE_DIR:-$HOME/.cache/citeqa}

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the dependency declarations (or llama-cpp-python's build flags) change.
stamp=.venv/.citeqa-deps-$PROFILE
want=$( (cat pyproject.toml constraints.txt; grep -h '^LLAMA_\|-DGGML' qa/generate/llm_setup.py; echo "$PROFILE") \
  | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing dependencies ($PROFILE profile; the first run takes a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch first: the CPU build 2.13.0; a bare requirement would pull several GB of CUDA packages.
  .venv/bin/python -m pip install --quiet torch==2.13.0
  .venv/bin/python -m pip install --quiet -c constraints.txt -e .
  if [ "$PROFILE" = test ]; then
    # Builds llama-cpp-python once into the cache's wheels/ (about 5 minutes on 2 cores), installs it
    # and fetches the chat model; then the test tools, with llama-cpp-python's server extra taken from
    # that wheel (--only-binary keeps pip from compiling it a second time).
    .venv/bin/citeqa models pull --llm
    .venv/bin/python -m pip install --quiet -c constraints.txt --find-links "$CACHE_DIR/wheels" \
      --only-binary llama-cpp-python -e ".[test]"
  fi
  echo "$want" > "$stamp"
fi

# Fetch, verify and assemble the models (at once when they are in the cache already).
if [ "$PROFILE" = test ]; then
  .venv/bin/citeqa models pull --llm
else
  .venv/bin/citeqa models pull
fi
