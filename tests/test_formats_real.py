"""Issue 25 end to end with the real model: one index of every new format, a question answered from each
with the right file and page/slide/section cited, in every interface; and PostgreSQL keeps the pages too.

The fixtures are made by the libraries that write those formats (tests/document_fixtures.py); the PDF's
second page and the .png are images of text that Tesseract reads back, diacritics and umlauts included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.adapters.mcp_server import answer_text, passages_of
from qa.adapters.retriever import to_document
from qa.commands import format_answer
from qa.pipeline import answer
from qa.settings import Settings
from qa.types import Answer
from qa.web.api import AnswerOut
from qa.web.openai_api import completion
from qa.web.render import render_sources
from tests.conftest import REAL_CACHE
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
from tests.fakes import FakeEmbedder
from tests.test_converters import DUTCH_SCAN, DUTCH_SENTENCE, GERMAN_SCAN
from vectorstore.settings import ChunkingSettings, StoreSettings
from vectorstore.stores.folder import FolderStore
from vectorstore.stores.postgres import PostgresStore


def write_collection(docs: Path) -> Path:
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "plan.docx").write_bytes(
        docx_bytes(
            "Jaarplan 2024",
            "Jan de Vries",
            [
                ("Inleiding", ["Het jaarplan beschrijft de doelen van de afdeling sport."]),
                ("Begroting", ["De begroting van de afdeling sport bedraagt 4,2 miljoen euro."]),
            ],
            [["Post", "Bedrag"], ["Personeel", "3,1 miljoen euro"]],
        )
    )
    (docs / "nota.odt").write_bytes(
        odt_bytes(
            "Nota fietsparkeren",
            "Fietsparkeren",
            ["Bij het centraal station komen 12.500 nieuwe fietsplekken."],
        )
    )
    slides = [
        ("Roadmap", "The first release of the water sensor ships in March.", "Mention the beta testers."),
        ("Risks", "The sensor chips may come late.", "Say that Acme was found as a second chip supplier."),
    ]
    (docs / "deck.pptx").write_bytes(pptx_bytes(slides))
    epub_bytes(
        "The Lighthouse",
        [("The Storm", "The keeper lit the lamp at dusk every night."),
         ("The Rescue", "Seven sailors were rescued from the reef by the keeper in 1881.")],
        docs / "book.epub",
    )  # fmt: skip
    price = [("Prijs", ["De installatie van 24 zonnepanelen kost 9.800 euro."])]
    quote = docx_bytes("Offerte", "Petra Jansen", price, [["a"]])
    (docs / "offerte.eml").write_bytes(
        message("Offerte zonnepanelen", "Petra Jansen <petra@example.org>",
                "Beste Kees, de monteur kan de zonnepanelen op 12 juni op het dak van de sporthal leggen.",
                [("offerte.docx", quote)]).as_bytes()
    )  # fmt: skip
    mbox_file(
        docs / "archief.mbox",
        [message("Verhuizing", "Kees <kees@example.org>", "Het archief verhuist in september naar de kelder.",
                 [("inventaris.txt", b"De inventaris telt 340 dozen met bouwtekeningen.")]),
         message("Lunch", "Anna <anna@example.org>", "De lunch wordt vrijdag om half een geserveerd.")],
    )  # fmt: skip
    letter = ["Geachte heer Müller,", "De vergunning voor uw aanbouw is verleend op 3 april 2024."]
    (docs / "brief.rtf").write_bytes(rtf_bytes(letter))
    (docs / "verslag.pdf").write_bytes(
        join_pdfs(
            text_pdf(["Verslag van de inspraakavond over de brug."]), scanned_pdf([text_image(DUTCH_SCAN)])
        )
    )
    (docs / "schild.png").write_bytes(png_bytes(text_image(GERMAN_SCAN)))
    return docs


@pytest.fixture(scope="session")
def formats_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Every new format indexed with the real model once per session."""
    from vectorstore.indexer import build
    from vectorstore.models.embedding import SentenceTransformerEmbedder
    from vectorstore.models.provision import pull_embedding_model

    pull_embedding_model(REAL_CACHE, progress=True)
    docs = write_collection(tmp_path_factory.mktemp("formats") / "docs")
    index_dir = tmp_path_factory.mktemp("formats-index")
    settings = Settings(cache_dir=REAL_CACHE, index_dir=index_dir)
    report = build(
        [docs],
        index_dir,
        embedder=SentenceTransformerEmbedder(settings.embedding, REAL_CACHE),
        chunking=settings.chunking,
        store_settings=settings.store,
        rebuild=True,
    )
    assert report.skipped == [] and report.documents == 12, report
    return settings


# (question, cited file, where, words the quote must hold)
QUESTIONS = [
    ("Hoeveel bedraagt de begroting van de afdeling sport?", "plan.docx", "Begroting", "4,2 miljoen euro"),
    ("Hoeveel nieuwe fietsplekken komen er bij het centraal station?", "nota.odt", "Fietsparkeren", "12.500"),
    ("Who was found as a second chip supplier?", "deck.pptx", "slide 2", "Acme"),
    ("How many sailors were rescued from the reef?", "book.epub", "The Rescue", "Seven sailors"),
    ("Wanneer kan de monteur de zonnepanelen op het dak leggen?", "offerte.eml", None, "12 juni"),
    ("Wat kost de installatie van 24 zonnepanelen?", "offerte.eml/offerte.docx", "Prijs", "9.800 euro"),
    (
        "Hoeveel dozen met bouwtekeningen telt de inventaris?",
        "archief.mbox/1.eml/inventaris.txt",
        None,
        "340 dozen",
    ),
    ("Wanneer is de vergunning voor de aanbouw verleend?", "brief.rtf", None, "3 april 2024"),
    ("Wat vinden de bewoners van het ontwerp van de brug?", "verslag.pdf", "p. 2", DUTCH_SENTENCE),
    (
        "Wann wird die Brücke für Fußgänger geöffnet?",
        "schild.png",
        None,
        "im Frühjahr für Fußgänger geöffnet.",
    ),
]


@pytest.mark.integration
@pytest.mark.parametrize(("question", "source", "where", "quoted"), QUESTIONS, ids=[q[1] for q in QUESTIONS])
def test_a_question_from_each_format_cites_its_file_and_place(
    formats_settings: Settings, question: str, source: str, where: str | None, quoted: str
) -> None:
    result = answer(question, formats_settings)
    assert not result.refused, result.to_dict()
    first = result.citations[0]
    assert (first.source, first.place.label()) == (source, where)
    assert quoted in first.quote


@pytest.mark.integration
def test_the_page_is_in_every_interface(formats_settings: Settings) -> None:
    result: Answer = answer("Wat vinden de bewoners van het ontwerp van de brug?", formats_settings)
    cited = result.to_dict()["citations"][0]  # `citeqa ask --json` and REST /ask
    assert (cited["source"], cited["page"], cited["last_page"], cited["location"]) == (
        "verslag.pdf",
        2,
        None,
        "p. 2",
    )
    rest = AnswerOut.model_validate(result.to_dict()).model_dump()
    assert rest["citations"][0]["page"] == 2 and rest["passages"][0]["location"] is not None
    assert "[1] " in format_answer(result) and "verslag.pdf, p. 2)" in format_answer(result)  # the CLI
    assert '<span class="citeqa-place">p. 2</span>' in render_sources(result)  # the web sources panel
    openai = completion(result, "chatcmpl-1", 0)
    assert "verslag.pdf, p. 2)" in openai["choices"][0]["message"]["content"]
    assert "verslag.pdf, p. 2)" in answer_text(result)  # MCP's text; its structured content is to_dict()
    assert passages_of(result)[0]["source"] == "verslag.pdf" and passages_of(result)[0]["page"] is not None
    passage = next(p for p in result.passages if p.source == "verslag.pdf")
    metadata = to_document(passage).metadata  # the LangChain retriever
    assert metadata["source"] == "verslag.pdf" and metadata["page"] in (1, 2) and metadata["location"]


@pytest.mark.integration
def test_openai_citations_carry_the_slide(formats_settings: Settings) -> None:
    from qa.web.openai_api import _extras

    result = answer("Who was found as a second chip supplier?", formats_settings)
    assert _extras(result)["citations"][0]["slide"] == 2


def test_postgres_keeps_the_same_pages_slides_and_sections(pg_url: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    write_one = write_collection(tmp_path / "all")
    for name in ("plan.docx", "deck.pptx", "book.epub"):
        (docs / name).write_bytes((write_one / name).read_bytes())
    pg = PostgresStore(pg_url, StoreSettings())
    pg.index([docs], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    folder = FolderStore(tmp_path / "index", StoreSettings())
    folder.index([docs], embedder=FakeEmbedder(), chunking=ChunkingSettings())
    ours, theirs = pg.load(), folder.load()
    assert ours.documents == theirs.documents
    assert theirs.documents["deck.pptx"].layout.slides == (
        (0, 1),
        (ours.documents["deck.pptx"].text.index("Risks"), 2),
    )
    assert [name for _, name in ours.documents["book.epub"].layout.sections] == ["The Storm", "The Rescue"]
    pg.close()
