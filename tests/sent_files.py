"""Files as Gradio's upload route would have received them, for driving `ChatService.upload` in tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from qa.web.received import ReceivedFiles


def sent(folder: Path, *files: Path) -> tuple[list[str], ReceivedFiles]:
    """Copy `files` into a stand-in for Gradio's upload folder (`folder/<sha256>/<name>`), as its upload
    route writes them; returns their paths there and the `ReceivedFiles` that knows them."""
    paths: list[str] = []
    for file in files:
        data = file.read_bytes()
        target = folder / hashlib.sha256(data + file.name.encode()).hexdigest() / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        paths.append(str(target))
    return paths, ReceivedFiles(set(paths), folder=lambda: folder)
