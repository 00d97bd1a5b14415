"""Property-based invariants of cleaning and chunking, on generated text (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vectorstore.ingest.chunking import chunk_document, paragraphs, sentences
from vectorstore.ingest.cleaning import clean_text
from vectorstore.settings import ChunkingSettings

# Words, sentence ends, abbreviations, quotes, hyphens at line ends, blank lines and odd characters:
# the material sentence splitting and cleaning make decisions on.
PIECES = [
    "de",
    "Oekraïne",
    "Istanbul",
    "30.",
    "Nov.",
    "z.B.",
    "J.",
    "e.g.",
    "U.S.",
    "1914",
    "„Vrede“",
    "(zie",
    "bijv.)",
    "ko-\nmen",
    "vracht-\nen",
    ". ",
    "? ",
    "! ",
    "… ",
    ".\u201d ",
    " ",
    " ",
    " ",
    "\n",
    "\n\n",
    "\t",
    "\u00ad",
    "\u200b",
    "ﬁ",
    "Ɵ",
    "- ",
    "• ",
    "1) ",
    "# ",
    "إسطنبول",
    "伊斯坦布尔。",
    "Ō",
    "\r\n",
]
texts = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=200).map("".join),
    st.text(max_size=400),
)
# Below the settings' minimum of 200 characters too: small chunks put many more seams in short texts.
chunkings = st.builds(
    lambda size, overlap: ChunkingSettings.model_construct(max_chars=size, overlap_sentences=overlap),
    st.integers(min_value=20, max_value=600),
    st.integers(min_value=0, max_value=2),
)
COMMON = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@COMMON
@given(texts)
def test_cleaning_is_idempotent_on_any_text(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once


@COMMON
@given(texts)
def test_cleaned_text_has_the_documented_shape(raw: str) -> None:
    cleaned = clean_text(raw)
    assert cleaned == cleaned.strip()
    for para in cleaned.split("\n\n") if cleaned else []:
        assert para and "\n" not in para and "  " not in para and para == para.strip()


@COMMON
@given(texts, chunkings)
def test_chunks_map_back_lose_no_text_and_keep_to_the_limit(raw: str, chunking: ChunkingSettings) -> None:
    text = clean_text(raw)
    chunks = chunk_document("doc.txt", text, chunking)
    covered = bytearray(len(text))
    for chunk in chunks:
        assert 0 <= chunk.start < chunk.end <= len(text)
        assert text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= chunking.max_chars  # whatever the punctuation
        assert chunk.sentences and chunk.sentences[0].start == chunk.start
        assert chunk.sentences[-1].end == chunk.end
        for sent in chunk.sentences:
            assert chunk.start <= sent.start < sent.end <= chunk.end
            assert text[sent.start : sent.end] == text[sent.start : sent.end].strip()
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    lost = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert lost == [], [text[i] for i in lost]
    # Chunks run forward through the text and their ids are unique.
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert len({c.id for c in chunks}) == len(chunks)


@COMMON
@given(st.text(max_size=400))
def test_sentences_tile_each_paragraph(text: str) -> None:
    for para in paragraphs(text):
        spans = sentences(text, para)
        assert spans[0].start == para.start and spans[-1].end == para.end
        for left, right in zip(spans, spans[1:], strict=False):
            assert left.end <= right.start and text[left.end : right.start].strip() == ""
