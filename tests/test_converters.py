"""One converter per format (issue 25): text in order, metadata, and where each part starts (page, slide,
section), from fixtures the tests build with the libraries that write those formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.document_fixtures import (
    docx_bytes,
    epub_bytes,
    join_pdfs,
    mbox_file,
    message,
    odt_bytes,
    png_bytes,
    pptx_bytes,
    rtf_bytes,
    scanned_pdf,
    text_image,
    text_pdf,
)
from vectorstore.ingest.cleaning import clean_text
from vectorstore.ingest.converters import SUPPORTED_SUFFIXES
from vectorstore.ingest.loaders import load_document, load_file
from vectorstore.types import Layout, Place

LIMIT = 10_000_000
BUDGET = "De begroting bedraagt 4,2 miljoen euro voor het hele jaar."
# A scanned page: hard-wrapped lines, as Tesseract returns them, joined again by the cleaner.
DUTCH_SCAN = [
    "De gemeente opent in het voorjaar van 2025 een",
    "nieuwe brug over de rivier bij het oude veer. De",
    "bewoners zijn zeer tevreden over het ontwerp, dat",
    "één architect uit Maastricht met hun ideeën maakte.",
    "Ook de geïnteresseerde scholieren van het lyceum",
    "mochten meedenken over de kleur van de leuning.",
]
DUTCH_SENTENCE = (
    "De bewoners zijn zeer tevreden over het ontwerp, dat één architect uit Maastricht met hun ideeën maakte."
)
GERMAN_SCAN = ["Die Brücke über den Fluss wird", "im Frühjahr für Fußgänger geöffnet."]


def write(root: Path, name: str, data: bytes) -> Path:
    path = root / name
    path.write_bytes(data)
    return path


def plan_docx() -> bytes:
    return docx_bytes(
        "Jaarplan 2024",
        "Jan de Vries",
        [("Inleiding", ["Het plan beschrijft de doelen van de afdeling."]), ("Begroting", [BUDGET])],
        [["Post", "Bedrag"], ["Personeel", "3,1 miljoen"]],
    )


def test_every_format_has_a_converter() -> None:
    assert sorted(SUPPORTED_SUFFIXES) == sorted(
        [
            ".txt",
            ".md",
            ".html",
            ".htm",
            ".pdf",
            ".docx",
            ".odt",
            ".pptx",
            ".epub",
            ".eml",
            ".mbox",
            ".rtf",
            ".png",
            ".jpg",
            ".jpeg",
            ".tif",
            ".tiff",
        ]  # fmt: skip
    )


def test_place_labels() -> None:
    layout = Layout(pages=((0, 11), (100, 12)), sections=((0, "Inleiding"), (150, "Begroting")))
    assert layout.place(120, 160) == Place(page=12, section="Inleiding")
    assert layout.place(50, 130).label() == "pp. 11\u201312, Inleiding"
    assert layout.place(160).label() == "p. 12, Begroting"
    assert Layout(slides=((0, 1), (40, 3))).place(41).label() == "slide 3"
    assert Layout().place(5).label() is None
    assert Layout.from_dict(layout.to_dict()) == layout


def test_docx_headings_paragraphs_table_and_core_properties(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "plan.docx", plan_docx()), tmp_path, LIMIT)
    assert doc.text == (
        "Inleiding\n\nHet plan beschrijft de doelen van de afdeling.\n\nBegroting\n\n"
        f"{BUDGET}\n\nPost | Bedrag\n\nPersoneel | 3,1 miljoen"
    )
    assert (doc.meta.title, doc.meta.publisher, doc.meta.date, doc.meta.language) == (
        "Jaarplan 2024", "Jan de Vries", "2024-03-05", "nl",
    )  # fmt: skip
    start = doc.text.index(BUDGET)
    assert doc.layout.place(start, start + len(BUDGET)) == Place(section="Begroting")
    assert doc.layout.place(0).section == "Inleiding"


def test_odt_heading_paragraphs_and_metadata(tmp_path: Path) -> None:
    odt = odt_bytes(
        "Nota fietsparkeren", "Fietsparkeren", ["Bij het station komen 12.500 fietsplekken.", "Klaar."]
    )
    doc = load_document(write(tmp_path, "nota.odt", odt), tmp_path, LIMIT)
    assert doc.text == "Fietsparkeren\n\nBij het station komen 12.500 fietsplekken.\n\nKlaar."
    assert (doc.meta.title, doc.meta.publisher) == ("Nota fietsparkeren", "Gemeente Utrecht")
    assert doc.layout.place(doc.text.index("Klaar")).section == "Fietsparkeren"


def test_pptx_slides_with_their_notes(tmp_path: Path) -> None:
    deck = pptx_bytes(
        [
            ("Roadmap", "We ship in March.", "Mention the beta."),
            ("Risks", "The sensors are late.", "A second supplier."),
        ]
    )
    doc = load_document(write(tmp_path, "deck.pptx", deck), tmp_path, LIMIT)
    assert doc.text == (
        "Roadmap\n\nWe ship in March.\n\nMention the beta.\n\n"
        "Risks\n\nThe sensors are late.\n\nA second supplier."
    )
    assert doc.meta.title == "Roadmap"
    assert doc.layout.place(doc.text.index("Mention")).slide == 1
    assert doc.layout.place(doc.text.index("A second")).label() == "slide 2"


def test_epub_chapters_in_reading_order_under_their_titles(tmp_path: Path) -> None:
    chapters = [
        ("The Storm", "The keeper lit the lamp at dusk."),
        ("The Rescue", "Seven sailors were rescued."),
    ]
    epub_bytes("The Lighthouse", chapters, tmp_path / "book.epub")
    doc = load_document(tmp_path / "book.epub", tmp_path, LIMIT)
    assert (
        doc.text
        == "The Storm\n\nThe keeper lit the lamp at dusk.\n\nThe Rescue\n\nSeven sailors were rescued."
    )
    assert (doc.meta.title, doc.meta.publisher, doc.meta.date, doc.meta.language) == (
        "The Lighthouse", "A. Writer", "2021-06-01", "en",
    )  # fmt: skip
    assert doc.layout.place(doc.text.index("Seven")).section == "The Rescue"


def test_eml_with_an_attachment_gives_two_documents(tmp_path: Path) -> None:
    attachment = docx_bytes("Offerte", "Petra", [("Prijs", ["24 panelen kosten 9.800 euro."])], [["a", "b"]])
    mail = message("Offerte zonnepanelen", "Petra Jansen <petra@example.org>", "Hierbij de offerte.",
                   [("offerte.docx", attachment), ("foto.xyz", b"\x00\x01")])  # fmt: skip
    docs, skipped = load_file(write(tmp_path, "mail.eml", mail.as_bytes()), tmp_path, LIMIT)
    assert skipped == []
    assert [d.doc_id for d in docs] == ["mail.eml", "mail.eml/offerte.docx"]  # .xyz is not a document type
    assert docs[0].text == "Hierbij de offerte."
    assert (docs[0].meta.title, docs[0].meta.date, docs[0].meta.publisher) == (
        "Offerte zonnepanelen", "2024-05-14", "Petra Jansen",
    )  # fmt: skip
    assert docs[1].meta.title == "Offerte" and "9.800 euro" in docs[1].text


def test_mbox_messages_and_their_attachments(tmp_path: Path) -> None:
    mbox_file(
        tmp_path / "archief.mbox",
        [
            message(
                "Vergadering",
                "Kees <kees@example.org>",
                "De vergadering is donderdag.",
                [("agenda.txt", b"Agenda: de begroting.")],
            ),  # fmt: skip
            message("Lunch", "anna@example.org", "De lunch is om half een."),
        ],
    )
    docs, skipped = load_file(tmp_path / "archief.mbox", tmp_path, LIMIT)
    assert skipped == []
    assert [(d.doc_id, d.meta.title, d.meta.publisher) for d in docs] == [
        ("archief.mbox/1.eml", "Vergadering", "Kees"),
        ("archief.mbox/1.eml/agenda.txt", "Agenda: de begroting.", None),
        ("archief.mbox/2.eml", "Lunch", "anna@example.org"),
    ]


def test_rtf_text_with_its_accents(tmp_path: Path) -> None:
    rtf = rtf_bytes(["Geachte heer Müller,", "De vergunning is verleend op 3 april."])
    doc = load_document(write(tmp_path, "brief.rtf", rtf), tmp_path, LIMIT)
    assert doc.text == "Geachte heer Müller,\n\nDe vergunning is verleend op 3 april."


def test_pdf_pages_survive_cleaning_and_the_text_is_unchanged(tmp_path: Path) -> None:
    page_one = [
        "Het verslag begint hier met een lange regel die",
        "doorloopt op de volgende bladzijde van het",
    ]
    page_two = ["verslag en daar eindigt.", "Op pagina twee staat de begroting van de raad."]
    pdf = join_pdfs(text_pdf(page_one), text_pdf(["3"]), text_pdf(page_two))  # page 2: only a page number
    doc = load_document(write(tmp_path, "verslag.pdf", pdf), tmp_path, LIMIT)
    # Exactly what cleaning the pages joined by newlines gives (what citeqa indexed before pages were kept).
    assert doc.text == clean_text("\n".join(["\n".join(page_one), "3", "\n".join(page_two)]))
    sentence = doc.text.index("Op pagina twee")
    assert doc.layout.place(sentence).page == 3
    assert doc.layout.place(0, doc.text.index("daar eindigt") + 5) == Place(page=1, last_page=3)


def test_png_of_german_text_is_read_with_its_umlauts(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "schild.png", png_bytes(text_image(GERMAN_SCAN))), tmp_path, LIMIT)
    assert "Die Brücke über den Fluss wird" in doc.text
    assert "im Frühjahr für Fußgänger geöffnet." in doc.text
    assert doc.meta.language == "de"


def test_a_scanned_second_page_is_read_in_dutch_and_keeps_its_page(tmp_path: Path) -> None:
    pdf = join_pdfs(text_pdf(["Verslag van de raadsvergadering."]), scanned_pdf([text_image(DUTCH_SCAN)]))
    doc = load_document(
        write(tmp_path, "verslag.pdf", pdf), tmp_path, LIMIT, sidecar={"verslag.pdf": {"language": "nl"}}
    )
    sentence = DUTCH_SENTENCE
    assert sentence in doc.text and "Ook de geïnteresseerde scholieren" in doc.text
    assert doc.layout.place(doc.text.index(sentence)).page == 2
    assert doc.layout.place(0).page == 1


@pytest.mark.parametrize("suffix", [".jpg", ".tiff"])
def test_other_image_types_are_read(tmp_path: Path, suffix: str) -> None:
    image = text_image(["Het zwembad is gesloten."]).convert("RGB")
    path = tmp_path / f"bord{suffix}"
    image.save(path)
    assert load_document(path, tmp_path, LIMIT).text == "Het zwembad is gesloten."
