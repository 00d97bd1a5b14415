"""Uploads from the chat page without a browser (issue 22): only bytes a client sent, cancelling, refusals.

Case 1: an upload event names a file by its path, which the client writes; a path Gradio's upload route
did not write in this process (by any trick) is never read. Smaller cases: an upload's build can be
cancelled from the page, and what is refused or cannot be read leaves the uploads folder. The question
bubble shows the question as plain text (case 9; the browser test is tests/test_web_hostile.py).
All of these failed on commit 0a43961: the handler copied whatever path it was given.
"""

from __future__ import annotations

import hashlib
import html
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.engine import clear_engines
from qa.settings import Settings
from qa.web import chat as web
from qa.web import render
from qa.web.collection import Collection, uploads_dir
from qa.web.received import ReceivedFiles
from tests.fakes import FakeEmbedder
from tests.sent_files import sent
from vectorstore import store

SECRET = "The vault code of the Zeppelin museum in Friedrichshafen is Kestrel-7341."
SECRET_QUESTION = "What is the vault code of the Zeppelin museum in Friedrichshafen?"
FACT = "At the Istanbul talks Ukraine offered permanent neutrality in exchange for security guarantees."
HARBOUR = "Which harbour did the blue submarine visit?"
SUBMARINE = b"Submarine\n\nThe blue submarine visited the harbour of Bergen in October.\n"


class _GatedEmbedder(FakeEmbedder):
    """Embeds documents only once `gate` is set, so a test can act while a build is running."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def embed_documents(self, texts, titles=None, progress=None):  # type: ignore[no-untyped-def]
        if texts:
            assert self.gate.wait(30), "the test never opened the gate"
        return super().embed_documents(texts, titles, progress)


def _service(tmp_path: Path, embedder: FakeEmbedder | None = None) -> web.ChatService:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "istanbul.txt").write_text(f"Istanbul talks\n\n{FACT}\n")
    settings = Settings(cache_dir=tmp_path / "cache", index_dir=tmp_path / "index")
    collection = Collection(settings, embedder or FakeEmbedder(), folders=[docs, uploads_dir(settings)])
    service = web.ChatService(settings, collection)
    if embedder is not None and isinstance(embedder, _GatedEmbedder):
        embedder.gate.set()
    list(service.on_load())
    if isinstance(embedder, _GatedEmbedder):
        embedder.gate.clear()
    return service


@pytest.fixture
def service(tmp_path: Path) -> Iterator[web.ChatService]:
    yield _service(tmp_path)
    clear_engines()


def _secret(tmp_path: Path) -> Path:
    folder = tmp_path / "private"
    folder.mkdir(exist_ok=True)
    path = folder / "secret.txt"
    path.write_text(f"Museum notes\n\n{SECRET}\n")
    return path


def _cites(result: dict[str, Any], text: str) -> bool:
    return not result["refused"] and any(text in c["quote"] for c in result["citations"])


def _forged(tmp_path: Path, gradio: Path) -> list[str]:
    """Paths a hostile client may put in a FileData, all leading to the secret (or to no upload)."""
    secret = _secret(tmp_path)
    index_copy = tmp_path / "index" / "private-notes.md"  # the index folder itself
    index_copy.write_text(f"Notes\n\n{SECRET}\n")
    linked = gradio / ("b" * 64)
    linked.mkdir(parents=True)
    (linked / "link.txt").symlink_to(secret)
    (gradio / ("c" * 64)).symlink_to(secret.parent, target_is_directory=True)
    planted = gradio / ("d" * 64)
    planted.mkdir()
    (planted / "planted.txt").write_text(f"Planted\n\n{SECRET}\n")  # in Gradio's folder, not uploaded
    return [
        str(secret),
        f"{gradio}/{'a' * 64}/../../private/secret.txt",
        str(linked / "link.txt"),
        str(gradio / ("c" * 64) / "secret.txt"),
        str(planted / "planted.txt"),
        f"/proc/self/root{secret}",
        f"/proc/{os.getpid()}/cwd/../{secret}",
        str(index_copy),
        str(secret).replace("/", "%2F"),
        f"file://{secret}",
        "private/secret.txt",
        f"{secret}\0.txt",
    ]


def test_an_upload_naming_a_server_file_reads_nothing(service: web.ChatService, tmp_path: Path) -> None:
    gradio = tmp_path / "gradio"
    forged = _forged(tmp_path, gradio)
    good_paths, _ = sent(gradio, _write(tmp_path, "submarine.txt", SUBMARINE))
    # Gradio's set may even hold a forged path: the folder and link checks still refuse it.
    received = ReceivedFiles({*good_paths, *forged[1:4]}, folder=lambda: gradio)
    before = service.ask(SECRET_QUESTION)

    given: list[Any] = [*forged, *good_paths, {"path": "x"}]
    *_, (report, _, _, _) = list(service.upload(given, received))

    assert not _cites(before, "Kestrel")
    assert report.count("not a file sent from this page") == len(forged) + 1
    assert "Refused secret.txt: not a file sent from this page." in report
    assert "Added submarine.txt: it is now searchable." in report
    assert "Traceback" not in report and str(tmp_path) not in report  # no folder of the server shown
    assert sorted(p.name for p in service.collection.uploads.iterdir()) == ["submarine.txt"]
    assert not _cites(service.ask(SECRET_QUESTION), "Kestrel")
    assert service.ask(HARBOUR)["citations"][0]["source"] == "submarine.txt"
    assert (tmp_path / "private" / "secret.txt").is_file()  # a link's target is never removed
    assert not Path(good_paths[0]).exists()  # Gradio's copy is taken once: a replay gets nothing
    *_, (again, _, _, _) = list(service.upload(good_paths, received))
    assert "Refused submarine.txt: not a file sent from this page." in again


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def test_received_files_are_read_once_and_only_from_gradios_folder(tmp_path: Path) -> None:
    gradio = tmp_path / "gradio"
    digest = hashlib.sha256(b"x").hexdigest()
    path = gradio / digest / "notes.txt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"Notes\n\nText.\n")
    received = ReceivedFiles({str(path)}, folder=lambda: gradio)
    assert received.take(str(path)) == b"Notes\n\nText.\n"
    assert not path.exists() and not path.parent.exists()
    assert received.take(str(path)) is None
    # A file in a folder that is no upload's hash folder, even when listed, is not read.
    odd = gradio / "notes.txt"
    odd.write_bytes(b"x")
    assert ReceivedFiles({str(odd)}, folder=lambda: gradio).take(str(odd)) is None


def test_an_uploads_build_can_be_cancelled_and_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    embedder = _GatedEmbedder()
    service = _service(tmp_path, embedder)
    manifest = store.read_manifest(service.settings.resolved_index_dir)
    assert service.cancel_upload()["visible"] is False  # nothing to cancel: the button hides
    updates: list[Any] = []
    sent_upload = sent(tmp_path / "gradio", _write(tmp_path, "submarine.txt", SUBMARINE))
    build = threading.Thread(target=lambda: updates.extend(service.upload(*sent_upload)))
    build.start()
    while service.collection.building is None or not service.collection.building.total:
        time.sleep(0.01)
    assert updates[0][3]["visible"] is True  # the cancel button shows while the upload's build runs
    assert (service.collection.uploads / "submarine.txt").is_file()

    assert service.cancel_upload() == {"__type__": "update", "value": "Cancelling…", "interactive": False}
    embedder.gate.set()
    build.join(30)

    report, status, _, cancel = updates[-1]
    assert (
        "Cancelled: submarine.txt not added. Indexing was cancelled; the index is as it was before." in report
    )
    assert cancel["visible"] is False and "1 documents" in status
    assert list(service.collection.uploads.iterdir()) == []
    assert store.read_manifest(service.settings.resolved_index_dir) == manifest
    sources = {c["source"] for c in service.ask(HARBOUR)["citations"]}
    assert "submarine.txt" not in sources
    # The next upload builds as usual.
    again = sent(tmp_path / "gradio2", _write(tmp_path, "submarine.txt", SUBMARINE))
    *_, (report, _, _, _) = list(service.upload(*again))
    assert "Added submarine.txt: it is now searchable." in report
    clear_engines()


def test_refused_and_unreadable_uploads_leave_the_uploads_folder(
    service: web.ChatService, tmp_path: Path
) -> None:
    files = [
        _write(tmp_path, "broken.pdf", b"%PDF-1.4\n" + os.urandom(3000)),  # looks like a PDF, reads as none
        _write(tmp_path, "late-nul.txt", b"Text\n\n" + b"words " * 400 + b"\0\1\2 binary tail"),
        _write(tmp_path, "tool.exe", b"MZ\x90\x00"),
        _write(tmp_path, "ok.md", b"# Ok\n\nA fine note about Bergen.\n"),
    ]
    *_, (report, _, _, _) = list(service.upload(*sent(tmp_path / "gradio", *files)))
    assert "Could not read broken.pdf" in report and "it was not kept" in report
    assert "Refused late-nul.txt: not a text file." in report
    assert "Refused tool.exe: .exe files are not accepted" in report
    assert "Added ok.md: it is now searchable." in report
    assert sorted(p.name for p in service.collection.uploads.iterdir()) == ["ok.md"]


@pytest.mark.parametrize(
    "question",
    [
        "![q](http://127.0.0.1:9/x.png)",
        "<img src=http://127.0.0.1:9/y.png> &lt;b&gt; &amp;",
        "[click](javascript:alert(1)) <http://127.0.0.1:9/a> www.example.com a@b.org",
        "![r][1]\n\n[1]: http://127.0.0.1:9/r.png\n$$x^2$$ **bold** `code` # head",
    ],
)
def test_the_question_bubble_is_plain_text(question: str) -> None:
    bubble = render.render_question(question)
    inner = bubble.removeprefix('<div class="citeqa-user-text">').removesuffix("</div>")
    assert html.unescape(inner.replace("<br>", "\n")) == question
    assert not any(ch in inner.replace("<br>", "") for ch in "<>[]()!*_`:$") and "\n" not in inner


def test_the_page_has_a_cancel_button_for_uploads(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path / "cache", index_dir=tmp_path / "index")
    app = web.build_app(settings, embedder=FakeEmbedder(), folders=[])
    names = {d.name for d in app.fns.values()}
    assert {"upload", "cancel_upload"} <= names
    chat = next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == "citeqa-chat")
    assert chat.latex_delimiters == []  # type: ignore[attr-defined]
