"""Run a function as another user, so file permissions are tested for real although tests run as root.

Root ignores mode bits, so a permission test run as root proves nothing. `as_other_user` forks, and the
child gives up root for `nobody` before calling the function (when the tests do not run as root, the
child stays the same user, who is then denied by the mode bits as anyone would be). The child cannot
import anything from a home folder closed to `nobody`, so the caller runs the same code once before
(everything it needs is then imported and shared with the child by the fork).
"""

from __future__ import annotations

import io
import json
import os
import select
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534  # uid and gid of `nobody` / `nogroup` on Debian


@dataclass(frozen=True)
class Outcome:
    """What the function returned (an int exit code) and printed, in the child."""

    code: int | None
    out: str
    err: str
    uid: int
    error: str | None = None  # the exception it raised, if any


def is_root() -> bool:
    return os.geteuid() == 0


@contextmanager
def shared_folder() -> Iterator[Path]:
    """A fresh folder that `nobody` can enter (pytest's tmp_path is closed to other users)."""
    path = Path(tempfile.mkdtemp(prefix="citeqa-perm-", dir=tempfile.gettempdir()))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for sub in [path, *path.rglob("*")]:
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)  # so that the clean-up may enter and empty what a test closed
        shutil.rmtree(path, ignore_errors=True)


def as_other_user(fn: Callable[[], int], timeout: float = 120) -> Outcome:
    """Call `fn` in a forked child running as `nobody` (as root) and return what it did."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        out, err = io.StringIO(), io.StringIO()
        payload: dict[str, object] = {}
        try:
            if is_root():
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            with redirect_stdout(out), redirect_stderr(err):
                payload["code"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the test
            payload["error"] = f"{type(exc).__name__}: {exc}"
        payload.update(out=out.getvalue(), err=err.getvalue(), uid=os.geteuid())
        with os.fdopen(write_end, "w") as fh:
            fh.write(json.dumps(payload))
        os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    with os.fdopen(read_end, "rb") as fh:
        while True:
            ready, _, _ = select.select([fh], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise TimeoutError(f"the child running as another user took over {timeout} s")
            data = os.read(fh.fileno(), 65536)
            if not data:
                break
            chunks.append(data)
    os.waitpid(pid, 0)
    payload = json.loads(b"".join(chunks) or b"{}")
    return Outcome(
        code=payload.get("code"),
        out=payload.get("out", ""),
        err=payload.get("err", ""),
        uid=payload.get("uid", -1),
        error=payload.get("error"),
    )
