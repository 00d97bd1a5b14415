"""detect_language on short questions, whole seed documents, and texts without enough evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from vectorstore.ingest.cleaning import clean_text
from vectorstore.ingest.language import detect_language

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Wer führte das Interview?", "de"),
        ("Wat bood Oekraïne aan in Istanbul?", "nl"),
        ("What was offered at Istanbul?", "en"),
        ("Qui a mené l'entretien ?", "fr"),
        ("Welke rol speelde Boris Johnson?", "nl"),  # one Dutch-only word is enough
        ("Welche Rolle spielte Boris Johnson?", "de"),
        ("Wie is Kujat?", "nl"),  # "wie" is Dutch and German, "is" Dutch and English
        ("Wer ist Kujat?", "de"),
        ("Who is Kujat?", "en"),
        ("Warum müsste die NATO zustimmen?", "de"),  # the umlaut tips "die" towards German
        ("Hoeveel tanks wilde Zaloezjnyj?", "nl"),
    ],
)
def test_short_questions(question: str, language: str) -> None:
    assert detect_language(question) == language


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Oekraïne?",
        "Kujat",
        "NATO 2022",
        "Is Kujat right?",  # "is" is English and Dutch: half a word each
        "Die Welt",  # "die" is German and Dutch
        "Was forderte Kuleba in Bukarest?",  # "was" and "in" belong to three languages
        # As much English as Dutch: no language wins by the required margin.
        "The war in the east. De oorlog in het oosten.",
    ],
)
def test_no_evidence_gives_none(text: str) -> None:
    assert detect_language(text) is None


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("000_d6b9d14a00a44e16.txt", "nl"),
        ("001_5b70a646f9b877f3.txt", "nl"),
        ("002_24e8bf16e2cc36cb.txt", "de"),
        ("003_70503c2fd6e06528.txt", "de"),
        ("004_822effe7b59d270b.txt", "de"),
    ],
)
def test_seed_documents(name: str, language: str) -> None:
    assert detect_language(clean_text((SEEDS / name).read_text(encoding="utf-8"))) == language


def test_detection_is_case_insensitive_and_deterministic() -> None:
    assert detect_language("WAT BOOD OEKRAÏNE AAN IN ISTANBUL?") == "nl"
    assert {detect_language("What was offered at Istanbul?") for _ in range(5)} == {"en"}
