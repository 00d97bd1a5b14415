"""The web chat's handlers and HTML, without a browser: escaping, uploads, errors, refusals, streaming."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from qa.engine import clear_engines
from qa.settings import Settings
from qa.types import Answer, Citation, Passage
from qa.web import chat as web
from qa.web import render
from qa.web.collection import Collection, Saved, check_upload, safe_upload_name, uploads_dir
from tests.fakes import FakeEmbedder
from tests.sent_files import sent
from vectorstore import store

EVIL = "<script>alert(1)</script> <b>x</b>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;x&lt;/b&gt;"
FACT = "At the Istanbul talks Ukraine offered permanent neutrality in exchange for security guarantees."
QUESTION = "What did Ukraine offer at the Istanbul talks in exchange for security guarantees?"


def _citation(**kw: Any) -> Citation:
    passage = kw.pop("passage", f"Before. {EVIL} is quoted here. After.")
    quote = kw.pop("quote", f"{EVIL} is quoted here.")
    start = passage.find(quote)
    fields: dict[str, Any] = dict(
        n=1,
        source="evil<x>.html",
        title=f"Title {EVIL}",
        date="2023-03-04",
        publisher=f"Pub {EVIL}",
        language="nl",
        chunk_id="c1",
        quote=quote,
        passage=passage,
        quote_start=start,
        quote_end=start + len(quote),
        score=0.9,
    )
    fields.update(kw)
    return Citation(**fields)


def _answer(**kw: Any) -> Answer:
    fields: dict[str, Any] = dict(
        question=f"Why {EVIL}?",
        text=f"{EVIL} is quoted here. [1]",
        refused=False,
        mode="extractive",
        language="en",
        citations=(_citation(),),
    )
    fields.update(kw)
    return Answer(**fields)


def _passage(text: str) -> Passage:
    return Passage(
        rank=1,
        chunk_id="c9",
        source="near.txt",
        title="Near miss",
        date=None,
        publisher=None,
        language="en",
        text=text,
        score=0.1,
        dense=0.2,
    )


def test_document_html_in_the_sources_panel_is_shown_as_text() -> None:
    panel = render.render_sources(_answer())
    assert "<script" not in panel and "<b>" not in panel
    assert f"Title {EVIL_ESCAPED}" in panel and f"Pub {EVIL_ESCAPED}" in panel
    assert "evil&lt;x&gt;.html" in panel
    assert f"Before. <mark>{EVIL_ESCAPED} is quoted here.</mark> After." in panel
    assert "Dutch" in panel and "2023-03-04" in panel
    assert f"Why {EVIL_ESCAPED}?" in panel


def test_document_html_in_the_chat_is_shown_as_text() -> None:
    bubble = render.render_answer(_answer())
    assert "<script" not in bubble and "<b>" not in bubble
    marker = '<span class="citeqa-marker">[1]</span>'
    assert bubble == f'<div class="citeqa-answer">{EVIL_ESCAPED} is quoted here. {marker}</div>'


def test_highlight_falls_back_to_finding_the_quote_when_offsets_are_off() -> None:
    citation = _citation(
        passage="One. Two & three. Four.", quote="Two & three.", quote_start=-1, quote_end=999
    )
    panel = render.render_sources(_answer(citations=(citation,)))
    assert "One. <mark>Two &amp; three.</mark> Four." in panel


def test_a_long_passage_is_clipped_around_the_quote_at_word_boundaries() -> None:
    before, after = "early " * 100, " late" * 100
    passage = f"{before}The <quoted> sentence.{after}"
    citation = _citation(passage=passage, quote="The <quoted> sentence.")
    panel = render.render_sources(_answer(citations=(citation,)))
    shown = panel.split('<div class="citeqa-passage">')[1].split("</div>")[0]
    assert shown == "…" + "early " * 50 + "<mark>The &lt;quoted&gt; sentence.</mark>" + " late" * 60 + "…"
    assert render._clip("alpha beta gamma", 8) == "alpha…"
    assert render._clip("alpha beta gamma", 8, keep_end=True) == "…gamma"
    assert render._clip("alpha beta gamma", 16) == "alpha beta gamma"


def test_refusal_looks_different_from_an_answer_and_lists_closest_matches() -> None:
    refused = _answer(
        text="The documents do not answer this.",
        refused=True,
        citations=(),
        closest=(_passage(f"Nearly {EVIL}"),),
    )
    bubble = render.render_answer(refused)
    assert bubble.startswith('<div class="citeqa-refusal">The documents do not answer this.</div>')
    assert "citeqa-answer" not in bubble
    assert "<b>Closest matches:</b><ol><li>Near miss <code>near.txt</code></li></ol>" in bubble
    panel = render.render_sources(refused)
    assert "citeqa-refused" in panel and "<mark>" not in panel and f"Nearly {EVIL_ESCAPED}" in panel
    assert "citeqa-refusal" not in render.render_answer(_answer())


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\Windows\\evil.md", "evil.md"),
        ("/abs/path/report.PDF", "report.pdf"),
        (".hidden.txt", "hidden.txt"),
        ("<script>.html", "_script_.html"),
        ("Überblick 2023.md", "Überblick 2023.md"),
        ("..", None),
        ("...txt", None),
        ("noextension", None),
        ("", None),
    ],
)
def test_upload_names_are_plain_file_names(given: str, expected: str | None) -> None:
    assert safe_upload_name(given) == expected


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (
            "tool.exe",
            b"MZ...",
            "tool.exe: .exe files are not accepted; upload .txt, .md, .html, .htm, .pdf, .docx, .odt, .pptx, "
            ".epub, .eml, .mbox, .rtf, .png, .jpg, .jpeg, .tif, .tiff.",
        ),
        ("empty.txt", b"", "empty.txt: the file is empty."),
        ("big.txt", b"x" * 2_000_001, "big.txt: 2.0 MB is over the 2 MB limit."),
        ("fake.pdf", b"<html>not a pdf</html>", "fake.pdf: not a PDF file."),
        ("binary.md", b"abc\0def", "binary.md: not a text file."),
        ("late-nul.txt", b"text " * 1000 + b"\0", "late-nul.txt: not a text file."),
    ],
)
def test_uploads_of_the_wrong_type_or_size_are_refused(name: str, data: bytes, reason: str) -> None:
    assert check_upload(name, data, max_bytes=2_000_000) == reason


@pytest.fixture
def service(tmp_path: Path) -> web.ChatService:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "istanbul.txt").write_text(f"Istanbul talks\n\n{FACT} The talks ended in April.\n")
    (docs / "weather.txt").write_text("Weather\n\nIt rained all week in Amsterdam and Berlin.\n")
    settings = Settings(cache_dir=tmp_path / "cache", index_dir=tmp_path / "index")
    collection = Collection(settings, FakeEmbedder(), folders=[docs, uploads_dir(settings)])
    yield web.ChatService(settings, collection)
    clear_engines()


def _drain(gen: Any) -> list[Any]:
    return list(gen)


def test_missing_index_is_built_on_load_with_visible_progress(service: web.ChatService) -> None:
    updates = _drain(service.on_load())
    assert all("citeqa-busy" in u for u in updates[:-1]) and len(updates) >= 2
    assert updates[-1] == '<div class="citeqa-status">2 documents, 2 chunks, model fake-embedder</div>'


def test_an_answer_streams_in_and_its_sources_fill_the_panel(service: web.ChatService) -> None:
    _drain(service.on_load())
    updates = _drain(service.respond(QUESTION, [], {}, 5, "extractive"))
    first_history = updates[0][1]
    assert first_history[0] == {"role": "user", "content": render.render_question(QUESTION)}
    assert "citeqa-pending" in first_history[1]["content"]
    final_text, history, answers, sources, _status = updates[-1]
    assert final_text == ""
    result = answers[1]
    assert not result.refused and FACT in result.text and "[1]" in result.text
    assert history[1]["content"] == render.render_answer(result)
    partial = [u[1][1]["content"] for u in updates[1:-1]]
    assert len(partial) >= 3 and all(len(a) < len(b) for a, b in zip(partial, partial[1:], strict=False))
    assert "<mark>" in sources and "istanbul.txt" in sources


def test_turns_accumulate_in_one_session(service: web.ChatService) -> None:
    _drain(service.on_load())
    *_, (_, history, answers, _, _) = _drain(service.respond(QUESTION, [], {}, 5))
    weather = "How was the weather in Amsterdam?"
    *_, (_, history, answers, _, _) = _drain(service.respond(weather, history, answers))
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert sorted(answers) == [1, 3]


def test_a_library_error_becomes_a_short_chat_message(service: web.ChatService) -> None:
    # No index yet, and an empty question: both are one-line messages in the chat.
    for question in (QUESTION, "   "):
        *_, (_, history, _, _, _) = _drain(service.respond(question, [], {}))
        content = history[-1]["content"]
        assert content.startswith('<div class="citeqa-error">') and "Traceback" not in content
        assert content.count("<br>") == 0


def test_an_unexpected_error_shows_no_traceback(
    service: web.ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kw: object) -> Answer:
        raise RuntimeError('secret detail\nTraceback (most recent call last):\n  File "x.py", line 1')

    _drain(service.on_load())
    monkeypatch.setattr(web, "answer", broken)
    *_, (_, history, _, _, _) = _drain(service.respond(QUESTION, [], {}))
    assert history[-1]["content"] == (
        '<div class="citeqa-error">Something went wrong while answering (RuntimeError); '
        "see the server log.</div>"
    )
    assert service.ask(QUESTION) == {"error": "unexpected error (RuntimeError); see the server log"}


def test_the_api_returns_the_cli_json_object_or_an_error(service: web.ChatService) -> None:
    assert service.ask(QUESTION)["error"].startswith("No index at ")
    _drain(service.on_load())
    result = service.ask(QUESTION)
    assert set(result) >= {"question", "answer", "refused", "citations", "passages", "closest_matches"}
    assert result["citations"][0]["source"] == "istanbul.txt"
    assert service.ask("")["error"].startswith("The question is empty")


def test_an_upload_becomes_searchable_without_restart(service: web.ChatService, tmp_path: Path) -> None:
    _drain(service.on_load())
    question = "Which harbour did the blue submarine visit in October?"
    assert not any(c["source"] == "submarine.txt" for c in service.ask(question)["citations"])
    good = _file(
        tmp_path,
        "submarine.txt",
        b"Submarine\n\nThe blue submarine visited the harbour of Bergen in October.\n",
    )
    bad = _file(tmp_path, "notes.exe", b"MZ")
    updates = _drain(service.upload(*sent(tmp_path / "gradio", good, bad)))
    report, status, cleared, cancel = updates[-1]
    assert "Added submarine.txt: it is now searchable." in report
    assert "Refused notes.exe: .exe files are not accepted" in report
    assert status == '<div class="citeqa-status">3 documents, 3 chunks, model fake-embedder</div>'
    assert cleared is None and cancel["visible"] is False
    assert (service.collection.uploads / "submarine.txt").is_file()
    assert sorted(p.name for p in service.collection.uploads.iterdir()) == ["submarine.txt"]
    assert service.ask(question)["citations"][0]["source"] == "submarine.txt"


def test_an_upload_never_takes_the_name_of_an_existing_document(
    service: web.ChatService, tmp_path: Path
) -> None:
    other = ("istanbul.txt", b"Another\n\nA different text about Istanbul.\n")
    saved, refused = service.collection.save_uploads([other])
    assert saved == [Saved("istanbul-2.txt", new=True)] and not refused
    assert service.collection.save_uploads([other]) == ([Saved("istanbul-2.txt", new=False)], [])


def test_the_app_exposes_ask_as_its_only_public_api(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path / "cache", index_dir=tmp_path / "index")
    app = web.build_app(settings, embedder=FakeEmbedder(), folders=[])
    public = [d.api_name for d in app.fns.values() if d.api_visibility == "public"]
    assert public == ["ask"]


def _respond_generatively(service: web.ChatService, monkeypatch: pytest.MonkeyPatch, draft: str) -> list[Any]:
    """All updates of one generative answer whose chat model writes `draft`."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    import qa.generate.rewrite

    monkeypatch.setattr(
        qa.generate.rewrite, "load_chat_model", lambda s: FakeListChatModel(responses=[draft])
    )
    return _drain(service.respond(QUESTION, [], {}, 5, "generative"))


def test_a_generative_draft_streams_in_and_the_verified_answer_replaces_it(
    service: web.ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drain(service.on_load())
    draft = "Ukraine offered permanent neutrality in exchange for security guarantees [S1]."
    updates = _respond_generatively(service, monkeypatch, draft)
    drafts = [u[1][1]["content"] for u in updates[1:-1]]
    assert len(drafts) == len(draft) and all("citeqa-draft" in d for d in drafts)
    assert render.escape(draft) in drafts[-1]
    _, history, answers, sources, _ = updates[-1]
    result = answers[1]
    assert (
        result.mode == "generative"
        and result.text == "Ukraine offered permanent neutrality in exchange for security guarantees. [1]"
    )
    assert history[1]["content"] == render.render_answer(result)
    assert "citeqa-draft" not in history[1]["content"]
    assert "<mark>" in sources and "istanbul.txt" in sources


def test_an_unverified_draft_is_visibly_replaced_by_the_extractive_answer(
    service: web.ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drain(service.on_load())
    draft = "Ukraine offered Crimea to Poland in 1999 [S1]."
    updates = _respond_generatively(service, monkeypatch, draft)
    assert render.escape(draft) in updates[-2][1][1]["content"]  # the draft was shown while it came
    _, history, answers, _, _ = updates[-1]
    result = answers[1]
    final = history[1]["content"]
    assert result.mode == "extractive-fallback" and FACT in result.text
    assert "Crimea" not in final and "citeqa-draft" not in final
    assert f'<div class="citeqa-note">{render.escape(result.note)}</div>' in final
    assert result.note.startswith("The generated answer could not be verified")


def test_an_upload_keeps_what_the_index_holds_from_folders_this_server_does_not_know(
    tmp_path: Path,
) -> None:
    settings = Settings(cache_dir=tmp_path / "cache", index_dir=tmp_path / "index")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "istanbul.txt").write_text(f"Istanbul talks\n\n{FACT}\n")
    first = web.ChatService(settings, Collection(settings, FakeEmbedder(), folders=[docs]))
    _drain(first.on_load())
    clear_engines()
    # Another server on the same index, started where docs/ is not configured.
    service = web.ChatService(settings, Collection(settings, FakeEmbedder(), folders=[]))
    upload = _file(tmp_path, "submarine.txt", b"Submarine\n\nThe blue submarine visited Bergen in October.\n")
    *_, (report, _, _, _) = _drain(service.upload(*sent(tmp_path / "gradio", upload)))
    assert "Added submarine.txt: it is now searchable." in report
    manifest = store.read_manifest(settings.resolved_index_dir)
    assert set(manifest["documents"]) == {"istanbul.txt", "submarine.txt"}
    assert service.ask(QUESTION)["citations"][0]["source"] == "istanbul.txt"
    assert (settings.resolved_index_dir / "uploads" / "submarine.txt").is_file()
    # An upload named like a document kept from elsewhere gets a name of its own.
    same_name = ("istanbul.txt", b"Other\n\nSomething else entirely.\n")
    assert service.collection.save_uploads([same_name]) == ([Saved("istanbul-2.txt", new=True)], [])
    clear_engines()


class _GatedEmbedder(FakeEmbedder):
    """Embeds documents only once `gate` is set, so a test can act while a build is running."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def embed_documents(self, texts, titles=None, progress=None):  # type: ignore[no-untyped-def]
        if texts:
            assert self.gate.wait(30), "the test never opened the gate"
        return super().embed_documents(texts, titles, progress)


def test_questions_during_a_build_are_answered_from_the_index_before_it(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "istanbul.txt").write_text(f"Istanbul talks\n\n{FACT}\n")
    settings = Settings(cache_dir=tmp_path / "cache", index_dir=tmp_path / "index")
    embedder = _GatedEmbedder()
    service = web.ChatService(settings, Collection(settings, embedder, folders=[docs]))
    first_build = threading.Thread(target=_drain, args=(service.on_load(),))
    first_build.start()
    while service.collection.building is None or not service.collection.building.total:
        time.sleep(0.01)
    # The very first build has nothing before it to answer from.
    assert service.ask(QUESTION)["error"] == (
        "Building the index: embedding 0 of 2 passages… "
        "There is nothing to answer from until this first build is done."
    )
    embedder.gate.set()
    first_build.join(30)
    embedder.gate.clear()
    upload = _file(tmp_path, "log.txt", b"Log\n\nThe blue submarine visited Bergen in October.\n")
    updates: list[Any] = []
    sent_upload = sent(tmp_path / "gradio", upload)
    second_build = threading.Thread(target=lambda: updates.extend(service.upload(*sent_upload)))
    second_build.start()
    while service.collection.building is None or not service.collection.building.total:
        time.sleep(0.01)
    during = service.ask(QUESTION)
    assert during["citations"][0]["source"] == "istanbul.txt" and not during["refused"]
    assert during["note"] == (
        "Building the index: embedding 0 of 2 passages… This answer is from the documents indexed before it."
    )
    *_, (_, history, _, _, _) = _drain(service.respond(QUESTION, [], {}))
    assert "This answer is from the documents indexed before it." in history[-1]["content"]
    embedder.gate.set()
    second_build.join(30)
    assert "Added log.txt: it is now searchable." in updates[-1][0]
    assert service.ask(QUESTION)["note"] is None
    clear_engines()


def test_a_generation_swapped_in_while_it_is_read_is_read_again(
    service: web.ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.engine

    _drain(service.on_load())
    clear_engines()
    real_load = store.load
    manifest = service.settings.resolved_index_dir / store.MANIFEST
    calls: list[int] = []

    def load_during_a_swap(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # the build replaced the manifest and pruned the files being read
            manifest.touch()
            os.utime(manifest, ns=(manifest.stat().st_atime_ns, manifest.stat().st_mtime_ns + 1_000_000))
            raise qa.engine.IndexCorrupt("chunks-x.jsonl vanished")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(store, "load", load_during_a_swap)
    assert service.ask(QUESTION)["citations"][0]["source"] == "istanbul.txt"
    assert len(calls) == 2
