"""Hostile and awkward files (issue 25): each is one line from `citeqa index`, and nothing else is lost.

An encrypted .docx, a zip bomb named .docx (refused before inflating: bounded memory and time), a .pptx
that is not a zip, an e-mail in a broken charset, a scan without Tesseract installed, and a 500-page
scanned PDF whose OCR is interrupted with Ctrl-C (its progress shown, the old index left as it was).
Runs `citeqa index` in-process with the fake model; OCR is the real Tesseract.
"""

from __future__ import annotations

import io
import signal
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import qa.engine
import vectorstore.models.embedding
from qa.cli import main
from qa.engine import clear_engines
from qa.web.collection import UPLOAD_SUFFIXES, check_upload
from tests.document_fixtures import docx_bytes, png_bytes, scanned_pdf, text_image, text_pdf, zip_bomb
from tests.fakes import FakeEmbedder
from vectorstore import store
from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.converters import SUPPORTED_SUFFIXES, ocr
from vectorstore.ingest.converters.base import Request
from vectorstore.ingest.converters.docx import convert as convert_docx

GOOD = "De vergadering van de raad begint donderdag om acht uur in het stadhuis."


@pytest.fixture
def embedder(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEmbedder]:
    fake = FakeEmbedder()
    monkeypatch.setattr(vectorstore.models.embedding, "SentenceTransformerEmbedder", lambda *a, **kw: fake)
    monkeypatch.setattr(qa.engine, "SentenceTransformerEmbedder", lambda *a, **kw: fake)
    clear_engines()
    yield fake
    clear_engines()


def _index(capfd: pytest.CaptureFixture[str], docs: Path, index_dir: Path) -> tuple[int, list[str]]:
    clear_engines()
    code = main(["index", str(docs), "--index-dir", str(index_dir)])
    return code, capfd.readouterr().err.splitlines()


def _encrypted_docx() -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(docx_bytes("Geheim", "X", [("Kop", ["Geheime tekst."])], [["a"]]))).encrypt(
        "pw", out
    )
    return out.getvalue()


def _broken_charset_mail() -> bytes:
    return (
        "From: Secretariaat <secretariaat@example.org>\r\nSubject: Vergadering\r\n"
        "Date: Tue, 14 May 2024 09:30:00 +0200\r\nMIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="x-no-such-charset"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
        "De vergadering in café Müller begint om acht uur.\r\n"
    ).encode("latin-1")


HOSTILE: dict[str, tuple[bytes, str]] = {
    "locked.docx": (b"", "locked.docx: encrypted .docx file (needs a password); save it without one"),
    "bomb.docx": (
        b"",
        "bomb.docx: unpacks to 1,048,576,008 bytes, over the 200,000,000 allowed (a zip bomb?)",
    ),
    "liar.docx": (b"", "liar.docx: damaged or unreadable .docx file"),
    "slides.pptx": (b"%PDF-1.4 this is not a zip", "slides.pptx: not a .pptx file (not a zip archive)"),
    "poster.png": (b"", "poster.png: image too large to read (a decompression bomb?)"),  # 400 Mpixel in 48 kB
}


def test_each_hostile_file_is_one_line_and_the_rest_is_indexed(
    tmp_path: Path, embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "raad.txt").write_text(GOOD, encoding="utf-8")
    (docs / "locked.docx").write_bytes(_encrypted_docx())
    (docs / "bomb.docx").write_bytes(zip_bomb(1000))
    (docs / "liar.docx").write_bytes(zip_bomb(300, declared=1000))  # headers claim 1 kB
    (docs / "slides.pptx").write_bytes(HOSTILE["slides.pptx"][0])
    (docs / "mail.eml").write_bytes(_broken_charset_mail())
    Image.new("1", (20_000, 20_000)).save(docs / "poster.png")
    started = time.monotonic()
    code, err = _index(capfd, docs, tmp_path / "index")
    assert code == 0 and time.monotonic() - started < 60
    for name, (_, reason) in HOSTILE.items():
        lines = [line for line in err if name in line]
        assert len(lines) == 1 and lines[0].startswith(f"skipped {reason}"), (name, err)
    assert [line for line in err if "mail.eml" in line] == [
        "warning: mail.eml: the text is not in its declared charset 'x-no-such-charset'; read as detected"
    ]
    documents = store.load(tmp_path / "index").documents
    assert sorted(documents) == ["mail.eml", "raad.txt"]
    assert documents["mail.eml"].text == "De vergadering in café Müller begint om acht uur."
    assert documents["mail.eml"].meta.title == "Vergadering"


def test_a_zip_bomb_is_refused_before_anything_is_inflated() -> None:
    bomb, liar = zip_bomb(1000), zip_bomb(300, declared=1000)
    tracemalloc.start()
    try:
        for name, data in (("bomb.docx", bomb), ("liar.docx", liar)):
            with pytest.raises(UnsupportedDocument):
                convert_docx(Request(data, name))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 1 GB and 300 MB unpacked; reading them costs less than a few times their 1 MB packed size.
    assert peak < 20_000_000


def test_without_tesseract_a_scan_is_one_line_saying_how_to_install_it(
    tmp_path: Path, embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "raad.txt").write_text(GOOD, encoding="utf-8")
    (docs / "bord.png").write_bytes(png_bytes(text_image(["Het zwembad is gesloten."])))
    two_pages = scanned_pdf([text_image(["Pagina twee."])])
    from tests.document_fixtures import join_pdfs

    (docs / "half.pdf").write_bytes(join_pdfs(text_pdf(["De begroting is vastgesteld."]), two_pages))
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    assert ocr.tesseract() is None
    code, err = _index(capfd, docs, tmp_path / "index")
    assert code == 0
    assert [line for line in err if "bord.png" in line] == [f"skipped bord.png: {ocr.INSTALL_HINT}"]
    assert [line for line in err if "half.pdf" in line] == [
        f"warning: half.pdf: 1 of 2 pages are scans, left out: {ocr.INSTALL_HINT}"
    ]
    documents = store.load(tmp_path / "index").documents
    assert sorted(documents) == ["half.pdf", "raad.txt"]
    assert documents["half.pdf"].text == "De begroting is vastgesteld."


def test_ctrl_c_during_the_ocr_of_a_500_page_scan_shows_progress_and_keeps_the_old_index(
    tmp_path: Path, embedder: FakeEmbedder, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    docs, index_dir = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "raad.txt").write_text(GOOD, encoding="utf-8")
    assert _index(capfd, docs, index_dir)[0] == 0
    before = {p.name: p.read_bytes() for p in index_dir.iterdir() if p.is_file() and p.name != ".lock"}
    pages = [text_image([f"Bladzijde {n} van het archief."], size=24) for n in range(1, 501)]
    (docs / "archief.pdf").write_bytes(scanned_pdf(pages))

    real_read, read = ocr._read, []

    def read_then_ctrl_c(*args: object) -> str:
        read.append(real_read(*args))  # type: ignore[arg-type]
        if len(read) == 3:  # the user presses Ctrl-C while page 3 is being read
            signal.raise_signal(signal.SIGINT)
        return read[-1]

    monkeypatch.setattr(ocr, "_read", read_then_ctrl_c)
    code, err = _index(capfd, docs, index_dir)
    assert code == 130 and err[-1] == "citeqa: interrupted"
    assert len(read) == 3 and "Bladzijde 1 van het archief." in read[0]
    assert "OCR archief.pdf:" in "\n".join(err) and "/500" in "\n".join(err)  # the progress bar
    after = {p.name: p.read_bytes() for p in index_dir.iterdir() if p.is_file() and p.name != ".lock"}
    assert after == before


def test_uploads_accept_every_type_a_collection_may_hold(tmp_path: Path) -> None:
    assert set(UPLOAD_SUFFIXES) == SUPPORTED_SUFFIXES
    for name, data in (
        ("plan.docx", docx_bytes("P", "A", [("H", ["Tekst."])], [["a"]])),
        ("bord.png", b"\x89PNG"),
    ):
        assert check_upload(name, data, max_bytes=1_000_000) is None
    assert check_upload("mail.eml", b"Subject: x\n\n\x00binary", max_bytes=1_000_000) == (
        "mail.eml: not a text file."
    )


def test_an_uploaded_docx_and_pptx_are_indexed_with_their_sections_and_slides(tmp_path: Path) -> None:
    from qa.settings import Settings
    from qa.web.collection import Collection, uploads_dir
    from tests.document_fixtures import pptx_bytes

    settings = Settings(cache_dir=tmp_path / "cache", index_dir=tmp_path / "index")
    collection = Collection(settings, FakeEmbedder(), folders=[uploads_dir(settings)])
    plan = docx_bytes("Plan", "A", [("Doelen", ["Wij bouwen een brug."])], [["a"]])
    deck_bytes = pptx_bytes([("Start", "Eerste dia.", ""), ("Einde", "Tweede dia.", "")])
    saved, refused = collection.save_uploads([("plan.docx", plan), ("deck.pptx", deck_bytes)])
    assert ([s.name for s in saved], refused) == (["plan.docx", "deck.pptx"], [])
    state = list(collection.update(time.monotonic()))[-1]
    assert state.error is None and state.report is not None
    assert sorted(state.report.added) == sorted(s.name for s in saved)
    documents = store.load(settings.resolved_index_dir).documents
    assert documents["plan.docx"].layout.sections == ((0, "Doelen"),)
    deck = documents["deck.pptx"]
    assert deck.layout.place(deck.text.index("Tweede")).label() == "slide 2"
