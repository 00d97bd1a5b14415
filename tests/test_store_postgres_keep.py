"""Issue 13's rules for updates, held by the PostgreSQL store too (real PostgreSQL 18, fake model).

An update refuses to drop documents because a path is missing or empty unless --prune, announces
removals before they happen, keeps what no path holds when the web chat builds (keep_others), reads
the uploads kept on this machine, and the web chat answers from the index during an upload's build.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qa.engine
import vectorstore.models.embedding
from qa.cli import main
from qa.engine import clear_engines
from qa.settings import Settings
from qa.web import chat as web
from qa.web.collection import Collection
from tests.fakes import FakeEmbedder
from tests.sent_files import sent
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.stores.factory import open_store
from vectorstore.stores.postgres import PostgresStore

DOCS = {
    "summit.txt": "Summit notes\n\nThe foreign ministers met in Bucharest. They discussed air defence.\n",
    "interview.txt": "Gesprek over Istanbul\n\nOekraïne bood in Istanbul neutraliteit aan.\n",
}
QUESTION = "Where did the foreign ministers meet?"


@pytest.fixture
def embedder(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEmbedder]:
    """One fake model for `citeqa index` and `citeqa ask` alike."""
    fake = FakeEmbedder()
    monkeypatch.setattr(vectorstore.models.embedding, "SentenceTransformerEmbedder", lambda *a, **kw: fake)
    monkeypatch.setattr(qa.engine, "SentenceTransformerEmbedder", lambda *a, **kw: fake)
    clear_engines()
    yield fake
    clear_engines()


def _docs(folder: Path, docs: dict[str, str] = DOCS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _run(capfd: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    clear_engines()
    code = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


def _pg(url: str, index_dir: Path) -> PostgresStore:
    store = open_store(StoreSettings(url=url), index_dir)
    assert isinstance(store, PostgresStore)
    return store


@pytest.fixture
def indexed(
    pg_url: str, tmp_path: Path, embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str]
) -> PostgresStore:
    """The database holding DOCS (from tmp_path/docs), as `citeqa index --store URL` leaves it."""
    code, out, _ = _run(capfd, "index", _docs(tmp_path / "docs"), "--store", pg_url)
    assert code == 0 and out.startswith("2 added")
    return _pg(pg_url, tmp_path / "cache" / "index")


def _still_answers(capfd: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = _run(capfd, "ask", QUESTION, "--store", url)
    assert code == 0 and "Bucharest" in out


def test_a_mistyped_path_refuses_and_leaves_the_database_as_it_was(
    indexed: PostgresStore, pg_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    generation = indexed.generation()
    code, out, err = _run(capfd, "index", tmp_path / "dosc", "--store", pg_url)
    assert (code, out) == (1, "")
    assert err == (
        f"citeqa: {tmp_path / 'dosc'}: no such file or folder; the index in {indexed.location} was left "
        "as it was. Check the path, or add --prune to update without it.\n"
    )
    assert indexed.generation() == generation
    assert set(indexed.indexed_hashes()) == set(DOCS)
    _still_answers(capfd, pg_url)
    indexed.close()


def test_an_empty_folder_refuses_even_with_rebuild_and_prune_removes_after_announcing(
    indexed: PostgresStore, pg_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    generation = indexed.generation()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.txt").write_text("   \n")  # unreadable files count as nothing
    for extra in ([], ["--rebuild"]):  # a rebuild must not drop the tables before this check
        code, out, err = _run(capfd, "index", empty, "--store", pg_url, *extra)
        assert (code, out) == (1, "")
        assert err.splitlines() == [
            f"citeqa: {empty}: no readable documents there, and the update would remove 2 documents "
            f"(interview.txt, summit.txt); the index in {indexed.location} was left as it was. "
            "Check the path, or add --prune to remove them."
        ]
        assert indexed.generation() == generation
    _still_answers(capfd, pg_url)

    code, out, err = _run(capfd, "index", empty, "--prune", "--store", pg_url)
    assert code == 1  # nothing indexed
    assert "removing 2 documents no longer found: interview.txt, summit.txt" in err.splitlines()
    assert out.startswith("0 added, 0 changed, 2 removed")
    assert indexed.indexed_hashes() == {}
    code, out, err = _run(capfd, "ask", QUESTION, "--store", pg_url)
    assert (code, out) == (1, "")
    assert err == (
        f"citeqa: The index at {indexed.location} holds no documents yet; add some with: citeqa index "
        f"PATH --store '{indexed.location}' (or upload files in the web chat).\n"
    )
    indexed.close()


def test_keep_others_keeps_what_no_path_holds_and_removing_is_announced_first(
    indexed: PostgresStore, tmp_path: Path
) -> None:
    other = _docs(tmp_path / "other", {"harbour.txt": "Harbour\n\nThe harbour opened in 2031.\n"})
    chunking = ChunkingSettings()
    report = indexed.index([other], embedder=FakeEmbedder(), chunking=chunking, keep_others=True)
    assert (report.added, report.kept, report.removed) == (["harbour.txt"], sorted(DOCS), [])
    assert report.documents == 3 and set(indexed.indexed_hashes()) == {*DOCS, "harbour.txt"}

    (tmp_path / "docs" / "interview.txt").unlink()
    heard: list[tuple[str, set[str]]] = []
    watcher = _pg(indexed.url, tmp_path / "index")  # its own connection: the indexer holds the other
    report = indexed.index(
        [tmp_path / "docs", other],
        embedder=FakeEmbedder(),
        chunking=chunking,
        announce=lambda line: heard.append((line, set(watcher.indexed_hashes()))),
    )
    watcher.close()
    assert heard == [("removing 1 document no longer found: interview.txt", {*DOCS, "harbour.txt"})]
    assert report.removed == ["interview.txt"]
    assert set(indexed.indexed_hashes()) == {"summit.txt", "harbour.txt"}
    indexed.close()


def test_an_update_reads_the_uploads_kept_on_this_machine(indexed: PostgresStore, tmp_path: Path) -> None:
    uploads = tmp_path / "cache" / "index" / "uploads"
    _docs(uploads, {"upload.txt": "Upload\n\nThe blue submarine visited Bergen in October.\n"})
    report = indexed.index([tmp_path / "docs"], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    assert (report.added, report.removed) == (["upload.txt"], [])
    assert set(indexed.indexed_hashes()) == {*DOCS, "upload.txt"}
    indexed.close()


class _GatedEmbedder(FakeEmbedder):
    """Embeds documents only once `gate` is set, so a test can act while a build is running."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def embed_documents(self, texts, titles=None, progress=None):  # type: ignore[no-untyped-def]
        if texts:
            assert self.gate.wait(30), "the test never opened the gate"
        return super().embed_documents(texts, titles, progress)


def test_the_web_chat_answers_from_the_database_during_an_upload_and_keeps_its_documents(
    indexed: PostgresStore, pg_url: str, tmp_path: Path
) -> None:
    # A server started where docs/ is not configured, on the database that holds them.
    settings = Settings(cache_dir=tmp_path / "cache", store=StoreSettings(url=pg_url))
    embedder = _GatedEmbedder()
    service = web.ChatService(settings, Collection(settings, embedder, folders=[settings.uploads_dir]))
    assert not service.collection.index_missing()
    upload = tmp_path / "log.txt"
    upload.write_bytes(b"Log\n\nThe blue submarine visited Bergen in October.\n")
    updates: list[Any] = []
    sent_upload = sent(tmp_path / "gradio", upload)
    build = threading.Thread(target=lambda: updates.extend(service.upload(*sent_upload)))
    build.start()
    while service.collection.building is None or not service.collection.building.total:
        time.sleep(0.01)
    health: list[dict[str, Any]] = []
    asking = threading.Thread(target=lambda: health.append(service.health()))
    asking.start()
    asking.join(20)
    answered_during_build = not asking.is_alive()
    during = service.ask(QUESTION) if answered_during_build else {}
    embedder.gate.set()
    build.join(30)
    asking.join(30)
    assert answered_during_build, "the health check waited for the build to end"
    assert health[0]["status"] == "ok" and health[0]["documents"] == 2
    assert during["citations"][0]["source"] == "summit.txt" and not during["refused"]
    assert during["note"] == (
        "Building the index: embedding 0 of 2 passages… This answer is from the documents indexed before it."
    )
    assert "Added log.txt: it is now searchable." in updates[-1][0]
    assert set(indexed.indexed_hashes()) == {*DOCS, "log.txt"}
    assert service.ask(QUESTION)["note"] is None
    # An upload named like a document of the database gets a name of its own.
    same_name = ("summit.txt", b"Other\n\nSomething else entirely.\n")
    assert [s.name for s in service.collection.save_uploads([same_name])[0]] == ["summit-2.txt"]
    indexed.close()
