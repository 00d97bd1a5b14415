"""The lock one build holds on an index folder, and what it tells readers about its progress.

A build holds an exclusive `flock` on `<index>/.lock` (a second build is refused at once) and keeps
"<done> <total>" of its embedding in `<index>/.progress`, so whoever answers from the index meanwhile
(`running_update`) can say that an update is running and how far it is.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from vectorstore.errors import IndexBusy

#: Receives the total number of texts to embed, returns a per-batch progress callback and a closer.
ProgressFactory = Callable[[int], tuple[Callable[[int], None], Callable[[], None]]]

_LOCK = ".lock"
_PROGRESS = ".progress"  # "<done> <total>" of the running build's embedding, for readers of the index
_LOCK_TRIES = 10


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the index folder, or raise IndexBusy (within half a second)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / _LOCK).open("a") as fh:
        # A reader asking `running_update` holds the lock shared for a moment: wait that out.
        for attempt in range(_LOCK_TRIES):
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == _LOCK_TRIES - 1:
                    raise IndexBusy(
                        f"Another `citeqa index` is updating {index_dir}; try again when it ends."
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            (index_dir / _PROGRESS).unlink(missing_ok=True)
            fcntl.flock(fh, fcntl.LOCK_UN)


def running_update(index_dir: Path) -> str | None:
    """A sentence saying that a build is updating `index_dir` now, with its progress; None if none is."""
    try:
        with (index_dir / _LOCK).open("rb") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                running = True
            else:
                fcntl.flock(fh, fcntl.LOCK_UN)
                running = False
    except OSError:
        return None
    if not running:
        return None
    try:
        done, total = map(int, (index_dir / _PROGRESS).read_text().split())
    except (OSError, ValueError):
        return "An update of the index is running: reading documents."
    return f"An update of the index is running: embedding {done:,} of {total:,} passages."


def recording_progress(index_dir: Path, progress: ProgressFactory | None) -> ProgressFactory:
    """`progress`, also keeping the running count in the index folder for `running_update`."""

    def factory(total: int) -> tuple[Callable[[int], None], Callable[[], None]]:
        tick, close = progress(total) if progress else (None, None)
        done = 0

        def record(n: int) -> None:
            nonlocal done
            done += n
            tmp = index_dir / f"{_PROGRESS}.tmp"
            tmp.write_text(f"{done} {total}")
            os.replace(tmp, index_dir / _PROGRESS)
            if tick:
                tick(n)

        record(0)
        return record, (close or (lambda: None))

    return factory
