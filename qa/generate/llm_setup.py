"""Fetch what the generative mode's local chat model needs, only when it is wanted.

The default (extractive) mode needs neither the 1.1 GB GGUF nor llama-cpp-python, whose build takes
about 5 minutes on 2 cores, so a first `make run` does neither. They come with
`citeqa models pull --llm`, or on first generative use: the CLI fetches them in the foreground with a
one-line notice and progress bars (`ensure_local_llm`); a server, which must not hold a request for
minutes, fetches them in a background thread and answers extractively meanwhile (`fetch_in_background`).

llama-cpp-python is built from source once with portable flags into `<cache>/wheels` and installed
from there with pip, into the Python running citeqa.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vectorstore.errors import GenerationUnavailable, ModelUnavailable

LLAMA_VERSION = "0.3.36"  # as pinned in pyproject.toml's `llm` extra and constraints.txt
# PyPI has only the source of llama-cpp-python. Portable x86-64 flags rather than -march=native: a native
# build uses AMX on Xeon Sapphire Rapids CPUs and crashes there on any prompt longer than one token, and
# a cached native wheel would not run on an older CPU.
LLAMA_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
)
LLM_NOTICE = (
    "citeqa: the generative mode needs the local chat model: fetching it once (1.1 GB) and building "
    "llama-cpp-python if missing (about 5 minutes on 2 cores); `citeqa models pull --llm` does this ahead"
)

Notice = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def llama_cpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def local_llm_ready(cache_dir: Path) -> bool:
    """The packaged GGUF is pulled and llama-cpp-python is importable."""
    from qa.generate.llm import QWEN_CODER_GGUF
    from vectorstore.models.provision import is_pulled

    return llama_cpp_installed() and is_pulled(cache_dir, QWEN_CODER_GGUF)


def _run_with_clock(command: list[str], env: dict[str, str] | None, desc: str, progress: bool) -> None:
    """Run a long command, showing the elapsed time (pip shows no progress while compiling)."""
    from tqdm import tqdm

    done = threading.Event()
    bar = tqdm(desc=desc, bar_format="{desc}: {elapsed}", file=sys.stderr, disable=not progress)

    def tick() -> None:
        while not done.wait(1.0):
            bar.refresh()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    finally:
        done.set()
        ticker.join()
        bar.close()
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        detail = (lines or ["no output"])[-1]
        raise ModelUnavailable(f"{desc} failed ({detail}); run `citeqa models pull --llm` to try again.")


def install_llama_cpp(cache_dir: Path, progress: bool = True) -> None:
    """Build llama-cpp-python once into `<cache>/wheels` (unless built with these flags already) and
    install it into this Python. Raises ModelUnavailable when the build or install fails."""
    import os

    wheels = cache_dir / "wheels"
    flags = wheels / f"llama_cpp_python-{LLAMA_VERSION}.cmake-args"
    built = sorted(wheels.glob(f"llama_cpp_python-{LLAMA_VERSION}-*.whl"))
    if not built or not flags.is_file() or flags.read_text().strip() != LLAMA_CMAKE_ARGS:
        wheels.mkdir(parents=True, exist_ok=True)
        for old in built:
            old.unlink()
        flags.unlink(missing_ok=True)
        command = [
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-binary", "llama-cpp-python",
            # pip's wheel cache ignores CMAKE_ARGS and would hand back a build with other flags.
            "--no-cache-dir", "--disable-pip-version-check", f"llama-cpp-python=={LLAMA_VERSION}",
            "-w", str(wheels),
        ]  # fmt: skip
        env = {**os.environ, "CMAKE_ARGS": LLAMA_CMAKE_ARGS}
        _run_with_clock(command, env, f"Building llama-cpp-python {LLAMA_VERSION}", progress)
        flags.write_text(LLAMA_CMAKE_ARGS + "\n")
        built = sorted(wheels.glob(f"llama_cpp_python-{LLAMA_VERSION}-*.whl"))
        if not built:
            raise ModelUnavailable(f"Building llama-cpp-python left no wheel in {wheels}.")
    # With its dependencies (diskcache is the one citeqa lacks), pinned when the checkout's
    # constraints.txt is at hand.
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    constraints = Path(__file__).resolve().parents[2] / "constraints.txt"
    if constraints.is_file():
        command += ["-c", str(constraints)]
    command.append(str(built[0]))
    _run_with_clock(command, None, "Installing llama-cpp-python", progress)
    importlib.invalidate_caches()


def ensure_local_llm(cache_dir: Path, progress: bool = True, notice: Notice | None = _stderr) -> Path:
    """llama-cpp-python installed and the GGUF pulled, fetching what is missing; returns the GGUF.

    Args:
        cache_dir: The citeqa cache (wheels and models).
        progress: Show progress bars on stderr.
        notice: Told one line before anything is fetched (None: say nothing).
    """
    from qa.generate.llm import pull_llm

    if notice is not None and not local_llm_ready(cache_dir):
        notice(LLM_NOTICE)
    if not llama_cpp_installed():
        install_llama_cpp(cache_dir, progress)
    return pull_llm(cache_dir, progress)


# --------------------------------------------------------------------------------- in the background

_background: dict[Path, threading.Thread] = {}
_background_errors: dict[Path, str] = {}
_background_lock = threading.Lock()
_allowed = threading.Event()


def allow_background_fetch() -> None:
    """Let a missing local model be fetched in the background on first use (servers call this)."""
    _allowed.set()


def fetch_in_background(cache_dir: Path, missing: str) -> GenerationUnavailable:
    """Start fetching the local model unless a fetch is running; returns the error to raise meanwhile
    (or, when background fetching is not allowed in this process, `missing` and what to run)."""
    if not _allowed.is_set():
        return GenerationUnavailable(f"{missing}; run `citeqa models pull --llm`.")
    with _background_lock:
        running = _background.get(cache_dir)
        if running is None or not running.is_alive():
            failed = _background_errors.pop(cache_dir, None)
            if failed is not None:  # said once; the next generative request tries again
                _background.pop(cache_dir, None)
                return GenerationUnavailable(f"Fetching the local chat model failed: {failed}")
            started = time.monotonic()

            def fetch() -> None:
                try:
                    ensure_local_llm(cache_dir, progress=True)
                    _stderr(f"citeqa: the local chat model is ready ({time.monotonic() - started:.0f} s)")
                except Exception as err:  # noqa: BLE001 - reported to the next generative request
                    _background_errors[cache_dir] = str(err)

            running = threading.Thread(target=fetch, name="citeqa-llm-fetch", daemon=True)
            _background[cache_dir] = running
            running.start()
    return GenerationUnavailable(
        "The local chat model is being fetched (once: 1.1 GB, and a 5-minute build of llama-cpp-python); "
        "answers are extractive until it is ready."
    )
