"""The files a page really sent: what Gradio's upload route wrote in this process, each taken once.

An event of the chat page gets a Gradio `FileData` whose `path` the client writes, so a forged one can
name any file on the server. Gradio's own check (only paths in its upload folder) runs only in apps
started with `launch()`: `mount_gradio_app`, which `citeqa serve` uses, never sets `Blocks.has_launched`,
and the check is then skipped (gradio 6.31, `processing_utils._check_allowed`). `qa.web.server` turns
that check on; `ReceivedFiles` is citeqa's own, and the one the uploads rely on: a path is accepted only
when Gradio's `/upload` route returned it in this process (`Blocks.upload_file_set`), it lies in a hash
folder directly inside Gradio's upload folder, and neither it nor that folder is a symbolic link. Its
bytes are read through a descriptor opened without following links, and Gradio's copy is deleted, so
a path works once: a second session that learnt it gets nothing.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Callable, MutableSet
from pathlib import Path

# Gradio names the folder of an upload after the seeded SHA-256 of its bytes (`route_utils.upload_fn`).
_HASH_FOLDER = re.compile(r"[0-9a-f]{64}")


def gradio_upload_folder() -> Path:
    """Where Gradio's upload route writes (GRADIO_TEMP_DIR, else the system's temp folder/gradio)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


class ReceivedFiles:
    """The upload paths Gradio received from clients, each good for one read of its bytes.

    Args:
        received: The set Gradio's upload route adds each path it writes to (`Blocks.upload_file_set`).
        folder: Gradio's upload folder (read at each call by default, as Gradio reads it).
    """

    def __init__(self, received: MutableSet[str], folder: Callable[[], Path] = gradio_upload_folder) -> None:
        self._received = received
        self._folder = folder
        self._lock = threading.Lock()

    def take(self, given: object) -> bytes | None:
        """The bytes a client uploaded as `given`, once; None for any other path (nothing is read then).

        Gradio's copy is removed once read (or refused), when it lies where Gradio writes uploads.
        """
        if not isinstance(given, str) or "\0" in given or not os.path.isabs(given):
            return None
        with self._lock:  # two events naming one path: only the first gets it
            if given not in self._received:
                return None
            self._received.discard(given)
        if not self._in_upload_folder(given):
            return None
        try:
            return _read(given)
        finally:
            _remove(given)

    def _in_upload_folder(self, given: str) -> bool:
        """Whether `given` is <upload folder>/<hash folder>/<name>, the hash folder no symbolic link."""
        folder = os.path.dirname(given)
        try:
            return (
                os.path.normpath(given) == given
                and _HASH_FOLDER.fullmatch(os.path.basename(folder)) is not None
                and not os.path.islink(folder)
                and os.path.realpath(os.path.dirname(folder)) == os.path.realpath(self._folder())
            )
        except OSError:
            return False


def _read(path: str) -> bytes | None:
    """The bytes of the regular file `path`, opened without following a symbolic link; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read()


def _remove(path: str) -> None:
    """Delete Gradio's copy of an upload (a link itself, never its target) and its hash folder once
    empty; errors leave them for Gradio's own cleanup."""
    try:
        if not os.path.isdir(path) or os.path.islink(path):
            os.unlink(path)
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass


def cleaned_name(given: object) -> str:
    """The file name part of a path a client sent, for messages (never the folders it names)."""
    return Path(str(given).replace("\\", "/")).name[:120] or "(no name)"
