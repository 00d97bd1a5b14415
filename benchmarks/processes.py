"""Fresh processes, timed from start to exit, with their own peak resident memory.

Cold start and peak memory are properties of a whole process, so each runs in a new interpreter: the
`citeqa` command for cold start, `benchmarks/plain_child.py` (which reports its own VmHWM) for memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITEQA = Path(sys.executable).with_name("citeqa")
PLAIN_CHILD = Path(__file__).resolve().with_name("plain_child.py")
PEAK = "peak_rss_mb="


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str


def run_measured(command: Sequence[str | Path], env: dict[str, str] | None = None) -> Measured:
    """Run `command` from the repository root to completion; raise with its stderr's tail if it fails."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(part) for part in command],
            cwd=ROOT,
            stdout=out,
            stderr=err,
            text=True,
            env={**os.environ, "TQDM_DISABLE": "1", **(env or {})},
        )
        proc.wait()
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{' '.join(map(str, command))} exited {proc.returncode}:\n{tail}")
    peaks = [line for line in stderr.splitlines() if line.startswith(PEAK)]
    return Measured(seconds, float(peaks[-1][len(PEAK) :]) if peaks else float("nan"), stdout)


def citeqa(*args: str | Path, env: dict[str, str] | None = None) -> Measured:
    """The installed `citeqa` command: start-up exactly as a user gets it (no memory figure)."""
    return run_measured([CITEQA, *args], env)


def citeqa_measured(*args: str | Path) -> Measured:
    """`citeqa ARGS` through the child wrapper, which reports peak memory."""
    return run_measured([sys.executable, PLAIN_CHILD, "citeqa", *args])


def plain(*args: str | Path) -> Measured:
    return run_measured([sys.executable, PLAIN_CHILD, *args])


def ours_serve(index_dir: Path, gold: Path, limit: int | None = None) -> Measured:
    """Answer the gold questions in one process, as the web app would serve them."""
    return run_measured([sys.executable, PLAIN_CHILD, "ours-serve", index_dir, gold, str(limit or 0)])
