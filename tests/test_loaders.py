"""load_document: text encodings, HTML, PDF, refusals with one-line reasons, and sidecar metadata."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.loaders import SIDECAR, SUPPORTED_SUFFIXES, load_document, load_sidecar

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
LIMIT = 1_000_000


def text_pdf(lines: list[str], info: dict[str, str] | None = None) -> bytes:
    """A one-page PDF showing `lines` in Helvetica, with an optional /Info dictionary."""

    def literal(text: str) -> str:
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    content = "BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(f"{literal(line)} Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        " /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content.encode('latin-1'))} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    if info:
        objects.append("<< " + " ".join(f"/{key} {literal(value)}" for key, value in info.items()) + " >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    trailer_info = f" /Info {len(objects)} 0 R" if info else ""
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R{trailer_info} >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypted(pdf: bytes, user_password: str, owner_password: str = "owner") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password, owner_password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write(root: Path, name: str, data: bytes | str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def refusal(path: Path, root: Path, max_bytes: int = LIMIT) -> str:
    with pytest.raises(UnsupportedDocument) as caught:
        load_document(path, root, max_bytes)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_supported_suffixes() -> None:
    # The rest of the formats: tests/test_converters.py.
    assert {".htm", ".html", ".md", ".pdf", ".txt"} <= SUPPORTED_SUFFIXES
    assert SIDECAR == "citeqa.json"


def test_utf8_text_in_a_subfolder(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "notes/verslag.txt",
        "Verslag van de vergadering\n\nDe commissie heeft het voorstel niet aangenomen.\n",
    )
    doc = load_document(path, tmp_path, LIMIT)
    assert doc.doc_id == doc.meta.source == "notes/verslag.txt"
    assert doc.text == "Verslag van de vergadering\n\nDe commissie heeft het voorstel niet aangenomen."
    assert doc.meta.title == "Verslag van de vergadering"
    assert doc.meta.language == "nl"
    assert (doc.meta.date, doc.meta.publisher, doc.meta.url) == (None, None, None)


def test_markdown_title_loses_its_heading_marks(tmp_path: Path) -> None:
    path = write(tmp_path, "readme.md", "# Over deze collectie\n\nDit zijn de artikelen over de oorlog.\n")
    assert load_document(path, tmp_path, LIMIT).meta.title == "Over deze collectie"


def test_long_first_line_is_cut_to_a_title(tmp_path: Path) -> None:
    first = (
        "Vladimir Putin hat Russlands Militär angewiesen, 30 Tage lang darauf zu verzichten, "
        "die ukrainische Energieinfrastruktur anzugreifen."
    )
    doc = load_document(write(tmp_path, "ft.txt", first), tmp_path, LIMIT)
    assert doc.meta.title == (
        "Vladimir Putin hat Russlands Militär angewiesen, 30 Tage lang darauf zu verzichten, die ukrainische…"
    )


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("café Müller", "cp1252"),
        ("Straße für Bürger, café Müller, naïve, 5 €", "cp1252"),
        ("Dit is een tekst met één café en Müller.", "latin-1"),
        ("Привет мир, как дела? Это тест русского текста в кодировке windows.", "cp1251"),
    ],
)
def test_legacy_encodings_are_detected(tmp_path: Path, text: str, encoding: str) -> None:
    path = write(tmp_path, "oud.txt", text.encode(encoding))
    assert load_document(path, tmp_path, LIMIT).text == text


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "notepad.txt", "\ufeffcafé Müller".encode("utf-16"))
    assert load_document(path, tmp_path, LIMIT).text == "café Müller"


def test_text_is_cleaned(tmp_path: Path) -> None:
    path = write(tmp_path, "pdftext.txt", "De NAVO heeŌ willen be-\ndrijven.\n")
    assert load_document(path, tmp_path, LIMIT).text == "De NAVO heeft willen bedrijven."


HTML = """<!DOCTYPE html>
<html lang="de-DE">
<head>
  <meta charset="utf-8">
  <title>NATO: Russland darf nicht gewinnen | DW | 30.11.2022</title>
  <meta property="og:title" content="NATO: Russland darf nicht gewinnen">
  <meta property="og:site_name" content="DW">
  <meta property="og:url" content="https://www.dw.com/de/a-63944334">
  <meta property="article:published_time" content="2022-11-30T18:05:00Z">
  <style>p { color: red }</style>
  <script>var tracking = "Zum Inhalt";</script>
</head>
<body>
  <header><a href="/">DW</a> Politik Europa</header>
  <nav><ul><li>Zum Inhalt springen</li><li>Themen</li></ul></nav>
  <article>
    <h1>NATO: Russland darf
        nicht gewinnen</h1>
    <p>US-Außenminister Blinken deutet
       Planung für bessere <b>Verteidigung</b> an.</p>
    <!-- ad slot -->
    <p>Die NATO befasst sich erstmals<br>mit China.</p>
    <ul><li>Patriots</li><li>Winterhilfe</li></ul>
    <script>document.write("nie zu sehen")</script>
  </article>
  <aside>Mehr zum Thema</aside>
  <footer>© 2022 Deutsche Welle</footer>
</body>
</html>
"""


def test_html_text_and_metadata(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "dw.html", HTML), tmp_path, LIMIT)
    assert doc.text == (
        "NATO: Russland darf nicht gewinnen\n\n"
        "US-Außenminister Blinken deutet Planung für bessere Verteidigung an.\n\n"
        "Die NATO befasst sich erstmals\n\nmit China.\n\n"
        "Patriots\n\nWinterhilfe"
    )
    assert doc.meta.title == "NATO: Russland darf nicht gewinnen"
    assert doc.meta.date == "2022-11-30"
    assert doc.meta.publisher == "DW"
    assert doc.meta.language == "de"
    assert doc.meta.url == "https://www.dw.com/de/a-63944334"


def test_html_falls_back_to_the_title_element_and_detection(tmp_path: Path) -> None:
    page = (
        "<html><head><title> Moskou en PESCO </title></head>"
        "<body><p>Rusland wil deelnemen aan de samenwerking van de EU.</p></body></html>"
    )
    doc = load_document(write(tmp_path, "hln.htm", page), tmp_path, LIMIT)
    assert (doc.meta.title, doc.meta.language, doc.meta.date) == ("Moskou en PESCO", "nl", None)
    assert doc.text == "Rusland wil deelnemen aan de samenwerking van de EU."


def test_html_without_text_is_empty(tmp_path: Path) -> None:
    page = (
        "<html><head><title>Leer</title><script>alert(1)</script></head><body><nav>Menu</nav></body></html>"
    )
    assert refusal(write(tmp_path, "leer.html", page), tmp_path) == "leer.html: empty"


PDF_LINES = [
    "Hoe langer de oorlog duurt, hoe moeilijker het zal zijn om via onderhandelingen tot vrede te ko-",
    "men. De Russische annexatie van vier gebieden is een voorbeeld van een ontwikkeling die moeilijk",
    "terug te draaien is. Daarom vond ik het zo betreurenswaardig dat de onderhandelingen in maart",
    "in Istanbul werden afgebroken.",
]


def test_text_pdf_with_info(tmp_path: Path) -> None:
    info = {"Title": "Rusland wil onderhandelen!", "CreationDate": "D:20230304120000Z"}
    doc = load_document(write(tmp_path, "kujat.pdf", text_pdf(PDF_LINES, info)), tmp_path, LIMIT)
    assert doc.text == (
        "Hoe langer de oorlog duurt, hoe moeilijker het zal zijn om via onderhandelingen tot vrede te komen. "
        "De Russische annexatie van vier gebieden is een voorbeeld van een ontwikkeling die moeilijk terug "
        "te "
        "draaien is. Daarom vond ik het zo betreurenswaardig dat de onderhandelingen in maart in Istanbul "
        "werden afgebroken."
    )
    assert (doc.meta.title, doc.meta.date, doc.meta.language) == (
        "Rusland wil onderhandelen!",
        "2023-03-04",
        "nl",
    )


def test_pdf_title_naming_a_word_file_is_ignored(tmp_path: Path) -> None:
    pdf = text_pdf(
        ["Kort verslag.", "Tweede regel van het verslag."], {"Title": "Microsoft Word - verslag.docx"}
    )
    assert load_document(write(tmp_path, "verslag.pdf", pdf), tmp_path, LIMIT).meta.title == "Kort verslag."


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    pdf = encrypted(text_pdf(["Open voor iedereen."]), user_password="")
    assert load_document(write(tmp_path, "open.pdf", pdf), tmp_path, LIMIT).text == "Open voor iedereen."


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    pdf = encrypted(text_pdf(["Geheim."]), user_password="secret")
    assert (
        refusal(write(tmp_path, "geheim.pdf", pdf), tmp_path)
        == "geheim.pdf: encrypted PDF (needs a password)"
    )


def test_fake_pdf_is_refused(tmp_path: Path) -> None:
    assert (
        refusal(write(tmp_path, "fake.pdf", b"<html>not a pdf</html>"), tmp_path)
        == "fake.pdf: not a PDF file"
    )


def test_damaged_pdf_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "kapot.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Cat"), tmp_path)
    assert message.startswith("kapot.pdf: damaged or unreadable PDF (")


def test_pdf_without_text_is_empty(tmp_path: Path) -> None:
    assert refusal(write(tmp_path, "scan.pdf", text_pdf([])), tmp_path) == "scan.pdf: empty"


@pytest.mark.parametrize("data", [b"", b"  \n\t\n", "\u00a0\n\u200b".encode()])
def test_empty_text_file_is_refused(tmp_path: Path, data: bytes) -> None:
    assert refusal(write(tmp_path, "leeg.txt", data), tmp_path) == "leeg.txt: empty"


def test_binary_with_nul_bytes_is_not_text(tmp_path: Path) -> None:
    data = random.Random(0).randbytes(4000)
    assert b"\x00" in data
    assert refusal(write(tmp_path, "blob.txt", data), tmp_path) == "blob.txt: not a text file"


def test_binary_without_nul_bytes_is_not_text(tmp_path: Path) -> None:
    data = random.Random(1).randbytes(4000).replace(b"\x00", b"\x01")
    assert refusal(write(tmp_path, "blob.md", data), tmp_path) == "blob.md: not a text file"


def test_file_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path, "groot.txt", "x" * 11)
    assert refusal(path, tmp_path, max_bytes=10) == "groot.txt: too large (11 bytes, the limit is 10)"


def test_unsupported_suffix_is_refused(tmp_path: Path) -> None:
    assert (
        refusal(write(tmp_path, "brief.xlsx", b"PK"), tmp_path) == "brief.xlsx: unsupported file type .xlsx"
    )


def test_missing_file_is_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path / "weg.txt", tmp_path) == "weg.txt: cannot be read (No such file or directory)"


def test_seed_000_metadata_comes_from_the_sidecar() -> None:
    doc = load_document(SEEDS / "000_d6b9d14a00a44e16.txt", SEEDS, LIMIT)
    assert doc.doc_id == "000_d6b9d14a00a44e16.txt"
    assert doc.meta.title == "Rusland wil onderhandelen!"
    assert doc.meta.publisher == "EMMA"
    assert doc.meta.date == "2023-03-04"
    assert doc.meta.language == "nl"
    assert doc.meta.url == "https://www.emma.de/artikel/russland-will-verhandeln-340083"


@pytest.mark.parametrize(
    ("name", "title", "date", "publisher", "language"),
    [
        (
            "001_5b70a646f9b877f3.txt",
            "Moskou heeft interesse in Europese defensiesamenwerking",
            "2020-04-17",
            "HLN",
            "nl",
        ),
        ("002_24e8bf16e2cc36cb.txt", "NATO: Russland darf nicht gewinnen", "2022-11-30", "DW", "de"),
        (
            "003_70503c2fd6e06528.txt",
            "NATO-Generalsekretär Rutte: Putin hat kein Interesse an Frieden",
            "2024-12-03",
            "Deutschlandfunk",
            "de",
        ),
        (
            "004_822effe7b59d270b.txt",
            "Vladimir Putin hat Russlands Militär angewiesen, 30 Tage lang darauf zu verzichten, die "
            "ukrainische…",
            "2025-03-18",
            "Financial Times",
            "de",
        ),
    ],
)
def test_other_seeds_metadata(name: str, title: str, date: str, publisher: str, language: str) -> None:
    meta = load_document(SEEDS / name, SEEDS, LIMIT).meta
    assert (meta.title, meta.date, meta.publisher, meta.language) == (title, date, publisher, language)


def test_seed_sidecar_describes_exactly_the_seeds() -> None:
    assert sorted(load_sidecar(SEEDS)) == sorted(p.name for p in SEEDS.glob("*.txt"))


def test_sidecar_overrides_and_is_part_of_the_content_hash(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "The Kremlin said the call was productive.")
    plain = load_document(path, tmp_path, LIMIT)
    write(tmp_path, SIDECAR, json.dumps({"a.txt": {"title": "Call", "language": "de-DE", "date": "2025-03"}}))
    described = load_document(path, tmp_path, LIMIT)
    assert (described.meta.title, described.meta.language, described.meta.date) == ("Call", "de", "2025-03")
    assert described.text == plain.text
    assert described.content_hash != plain.content_hash
    write(
        tmp_path,
        SIDECAR,
        json.dumps({"a.txt": {"title": "The call", "language": "de-DE", "date": "2025-03"}}),
    )
    retitled = load_document(path, tmp_path, LIMIT)
    assert retitled.meta.title == "The call"
    assert retitled.content_hash not in {plain.content_hash, described.content_hash}
    assert load_document(path, tmp_path, LIMIT).content_hash == retitled.content_hash


def test_preloaded_sidecar_is_used_instead_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "The Kremlin said the call was productive.")
    write(tmp_path, SIDECAR, "{ not json")
    doc = load_document(path, tmp_path, LIMIT, sidecar={"a.txt": {"publisher": "FT"}})
    assert doc.meta.publisher == "FT"


def test_sidecar_in_a_subfolder_uses_plain_file_names(tmp_path: Path) -> None:
    path = write(tmp_path, "ft/a.txt", "The Kremlin said the call was productive.")
    write(tmp_path, f"ft/{SIDECAR}", json.dumps({"a.txt": {"publisher": "Financial Times", "url": None}}))
    doc = load_document(path, tmp_path, LIMIT)
    assert (doc.doc_id, doc.meta.publisher, doc.meta.url) == ("ft/a.txt", "Financial Times", None)


@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        (
            "{ not json",
            "a.txt: citeqa.json: invalid JSON at line 1: Expecting property name enclosed in double quotes",
        ),
        ("[]", "a.txt: citeqa.json: must map file names to objects"),
        ('{"a.txt": "EMMA"}', "a.txt: citeqa.json: the entry for 'a.txt' must be an object"),
        (
            '{"a.txt": {"author": "Kujat"}}',
            "a.txt: citeqa.json: unknown field 'author' for 'a.txt' (known: title, date, publisher, "
            "language, url)",
        ),
        ('{"a.txt": {"title": 3}}', "a.txt: citeqa.json: 'title' for 'a.txt' must be a string or null"),
        (
            '{"a.txt": {"date": "4 maart 2023"}}',
            "a.txt: citeqa.json: date for 'a.txt' must be YYYY-MM-DD, YYYY-MM or YYYY",
        ),
        (
            '{"a.txt": {"date": "2023-02-30"}}',
            "a.txt: citeqa.json: date for 'a.txt' must be YYYY-MM-DD, YYYY-MM or YYYY",
        ),
        (
            '{"a.txt": {"language": "Dutch!"}}',
            "a.txt: citeqa.json: language for 'a.txt' must be a code such as 'nl'",
        ),
    ],
)
def test_invalid_sidecar_is_reported_for_the_document(tmp_path: Path, sidecar: str, message: str) -> None:
    path = write(tmp_path, "a.txt", "Tekst.")
    write(tmp_path, SIDECAR, sidecar)
    assert refusal(path, tmp_path) == message
