from vectorstore.ingest.chunking import chunk_document, paragraphs, sentences, split_long
from vectorstore.settings import ChunkingSettings
from vectorstore.types import Span

TEXT = (
    "De oorlog in Oekraïne is niet alleen een militair conflict. Dr. Kujat zei het al in 2022.\n\n"
    "Am 30. November 2022 trafen sich die Minister in Bukarest. J. Borrell sprach nicht! "
    "Was bleibt? Die Frage bleibt offen.\n\n"
    "Een korte alinea."
)


def _texts(text: str) -> list[str]:
    return [text[s.start : s.end] for s in sentences(text)]


def test_sentences_respect_abbreviations_ordinals_and_initials() -> None:
    assert _texts(TEXT) == [
        "De oorlog in Oekraïne is niet alleen een militair conflict.",
        "Dr. Kujat zei het al in 2022.",
        "Am 30. November 2022 trafen sich die Minister in Bukarest.",
        "J. Borrell sprach nicht!",
        "Was bleibt?",
        "Die Frage bleibt offen.",
        "Een korte alinea.",
    ]


def test_paragraphs_are_blank_line_separated() -> None:
    assert [TEXT[p.start : p.end][:10] for p in paragraphs(TEXT)] == [
        "De oorlog ",
        "Am 30. Nov",
        "Een korte ",
    ]


def test_quoted_sentence_start_is_a_boundary() -> None:
    text = 'Hij zei: "Wij willen vrede." "Rusland wil onderhandelen!" schreef EMMA.'
    assert _texts(text) == ['Hij zei: "Wij willen vrede."', '"Rusland wil onderhandelen!" schreef EMMA.']


def test_chunk_offsets_map_back_exactly_and_overlap_by_one_sentence() -> None:
    text = "\n\n".join(" ".join(f"Zin {p}-{i} heeft wat woorden erin." for i in range(6)) for p in range(5))
    chunks = chunk_document("doc.txt", text, ChunkingSettings(max_chars=200, overlap_sentences=1))
    assert len(chunks) > 3
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= 200
        assert chunk.sentences[0].start == chunk.start and chunk.sentences[-1].end == chunk.end
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.sentences[0] == before.sentences[-1]
    covered = {s for c in chunks for s in c.sentences}
    assert covered == set(sentences(text))


def test_chunk_ids_are_stable_content_hashes() -> None:
    settings = ChunkingSettings()
    first = chunk_document("a.txt", TEXT, settings)
    again = chunk_document("a.txt", TEXT, settings)
    other = chunk_document("b.txt", TEXT, settings)
    assert [c.id for c in first] == [c.id for c in again]
    assert {c.id for c in first}.isdisjoint(c.id for c in other)
    assert all(len(c.id) == 16 for c in first)


def test_a_sentence_longer_than_the_limit_is_cut_at_word_ends() -> None:
    long = "Woord " + "woord " * 100 + "einde."
    text = f"Kort begin. {long.strip()} Kort eind."
    chunks = chunk_document("a.txt", text, ChunkingSettings(max_chars=200, overlap_sentences=0))
    units = [text[s.start : s.end] for c in chunks for s in c.sentences]
    assert units[0] == "Kort begin." and units[-1] == "Kort eind."
    assert [len(u) for u in units[1:-1]] == [197, 197, 197, 18]  # 33 words of 5 letters and a space
    assert " ".join(units[1:-1]) == long.strip()
    assert [c.text for c in chunks][-1] == "woord woord einde. Kort eind."
    assert all(len(c.text) <= 200 for c in chunks)


def test_a_long_sentence_is_cut_after_a_clause_mark_in_the_second_half_of_the_limit() -> None:
    clause = "erst dies und das, "
    text = (clause * 20).strip()
    spans = split_long(text, Span(0, len(text)), 100)
    pieces = [text[s.start : s.end] for s in spans]
    assert all(p.endswith(",") for p in pieces[:-1]) and pieces[0] == (clause * 5).strip()
    assert all(len(p) <= 100 for p in pieces)
    assert " ".join(pieces) == text


def test_text_without_spaces_is_cut_between_characters_never_before_an_accent() -> None:
    text = "x" * 99 + "e\u0301" + "y" * 150
    pieces = [text[s.start : s.end] for s in split_long(text, Span(0, len(text)), 100)]
    assert pieces == ["x" * 99, "e\u0301" + "y" * 98, "y" * 52]
