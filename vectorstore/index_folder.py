"""Whether an index folder can be created, written and read, said in one line when it cannot.

`ensure_writable` is called before a build reads or embeds anything, so a folder that cannot hold the
index fails at once, not after minutes of embedding. `location_problem` answers the same question
without creating anything, for messages that would otherwise suggest a build that cannot succeed.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from vectorstore.errors import IndexUnwritable

# Linux limits: one name (NAME_MAX) and a whole path (PATH_MAX), in bytes.
_NAME_MAX = 255
_PATH_MAX = 4096


def _blocking_file(path: Path) -> Path | None:
    """The first ancestor of `path` (or `path` itself) that exists and is not a folder."""
    for candidate in reversed([path, *path.parents]):
        try:
            if candidate.exists() and not candidate.is_dir():
                return candidate
        except OSError:
            return None
    return None


def _too_long(path: Path) -> str | None:
    for name in path.parts:
        if len(os.fsencode(name)) > _NAME_MAX:
            shown = name if len(name) <= 40 else name[:37] + "..."
            return f"the name {shown!r} is longer than {_NAME_MAX} bytes"
    if len(os.fsencode(str(path))) >= _PATH_MAX:
        return f"the path is longer than {_PATH_MAX} bytes"
    return None


def describe(path: Path, err: OSError) -> str:
    """Why `err` happened at `path`, for a person: what is in the way, not the errno."""
    if err.errno == errno.ENAMETOOLONG:
        return _too_long(path) or "a name in the path is too long"
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        blocking = _blocking_file(path)
        if blocking is not None:
            return f"{blocking} is a file, not a folder"
    if err.errno in (errno.EACCES, errno.EPERM):
        where = Path(err.filename) if err.filename else path
        return f"no permission to write in {where if where.is_dir() else where.parent}"
    if err.errno == errno.EROFS:
        return "the file system is read-only"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device"
    return err.strerror or str(err)


def ensure_writable(index_dir: Path) -> None:
    """Create `index_dir` if needed and check that a file can be created in it.

    Raises:
        IndexUnwritable: One line naming what is in the way (a file, a long name, permissions).
    """
    problem = _too_long(index_dir)
    if problem is None:
        probe = index_dir / f".write-check-{secrets.token_hex(4)}"
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            os.close(fd)
            probe.unlink()
            return
        except FileExistsError as err:  # mkdir: the folder's own name is taken by a file
            problem = describe(index_dir, err)
        except OSError as err:
            problem = describe(index_dir, err)
    raise IndexUnwritable(f"Cannot write the index at {index_dir}: {problem}; choose another --index-dir.")


def location_problem(index_dir: Path) -> str | None:
    """Why no index could be built at `index_dir` (checked without creating anything), or None."""
    problem = _too_long(index_dir)
    if problem is not None:
        return problem
    blocking = _blocking_file(index_dir)
    if blocking is not None:
        return f"{blocking} is a file, not a folder"
    existing = index_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"no permission to write in {existing}"
    return None
