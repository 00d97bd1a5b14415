"""clean_text on the damage found in the seeds: PDF glyphs, line-break hyphens, hard wraps, web furniture."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorstore.ingest.cleaning import CLEANING_VERSION, clean_text

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
GLYPHS = "ƟŌƩƫĬﬀﬁﬂﬃﬄﬅﬆ"

# Seed 000 (a PDF text layer): wrapped at about 100 characters, a trailing space on every line,
# interview questions on their own line, a blank line only sometimes.
WRAPPED = (
    "WiƩe Huis. Zij is zeer competent en absoluut betrouwbaar. Zeer gedetailleerde informaƟe werd \n"
    "ook al op 2 mei gepubliceerd in de regeringsgezinde Ukrainska Pravda. \n"
    " HeeŌ u nog meer details over deze monstruositeit? \n"
    "Het is bekend dat de belangrijkste inhoud van de ontwerp-overeenkomst gebaseerd is op een \n"
    "voorstel van de Oekraïense regering van 29 maart. Inmiddels berichten ook veel Amerikaanse me-\n"
    "dia hierover. Ik heb echter moeten ervaren dat de Duitse media niet bereid zijn op deze kwesƟe in \n"
    "te gaan, ook al hebben zij toegang tot de bronnen. \n"
    "\n"
    "Waarom vindt u het argument dat onze vrijheid in Oekraïne wordt verdedigd onzinnig? Iedereen \n"
    "redeneert zo. \n"
    "Oekraïne vecht voor zijn vrijheid, voor zijn soevereiniteit en voor de territoriale integriteit van "
    "het \n"
    "land. Maar de twee hoofdrolspelers in deze oorlog zijn Rusland en de VS. \n"
)
WRAPPED_PARAGRAPHS = [
    "Witte Huis. Zij is zeer competent en absoluut betrouwbaar. Zeer gedetailleerde informatie werd ook al "
    "op 2 mei gepubliceerd in de regeringsgezinde Ukrainska Pravda.",
    "Heeft u nog meer details over deze monstruositeit?",
    "Het is bekend dat de belangrijkste inhoud van de ontwerp-overeenkomst gebaseerd is op een voorstel van "
    "de Oekraïense regering van 29 maart. Inmiddels berichten ook veel Amerikaanse media hierover. Ik heb "
    "echter moeten ervaren dat de Duitse media niet bereid zijn op deze kwestie in te gaan, ook al hebben "
    "zij toegang tot de bronnen.",
    "Waarom vindt u het argument dat onze vrijheid in Oekraïne wordt verdedigd onzinnig? Iedereen redeneert "
    "zo.",
    "Oekraïne vecht voor zijn vrijheid, voor zijn soevereiniteit en voor de territoriale integriteit van het "
    "land. Maar de twee hoofdrolspelers in deze oorlog zijn Rusland en de VS.",
]


def seed_texts() -> list[tuple[str, str]]:
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt"))]


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("willen poliƟek bedrijven", "willen politiek bedrijven"),
        ("Ɵjdens de onderhandelingen", "tijdens de onderhandelingen"),  # Ɵ may start a word
        ("Wat heeŌ Oekraïne aangeboden?", "Wat heeft Oekraïne aangeboden?"),
        ("Zie hƩps://www.emma.de/arƟkel", "Zie https://www.emma.de/artikel"),
        ("een zeer onpatrioƫsche houding", "een zeer onpatriottische houding"),
        ("aĬankelijk van het opleidingsniveau", "afhankelijk van het opleidingsniveau"),
        ("ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ", "ff fi fl ffi ffl st st"),
        ("de oﬃcier", "de officier"),
    ],
)
def test_ligature_glyphs_are_repaired(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


def test_glyphs_that_are_real_letters_survive_outside_words() -> None:
    # ft, tt and fh never start a word, so a word-initial Ō is the letter of "Ōsaka".
    assert clean_text("Ōsaka en Ʃ") == "Ōsaka en Ʃ"


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("cafe\u0301", "café"),  # NFC
        ("30.\u00a0November\u202f2022", "30. November 2022"),  # no-break spaces
        ("Bundes\u00adregierung", "Bundesregierung"),  # soft hyphen inside a line
        ("Bundes\u00ad\nregierung", "Bundesregierung"),  # soft hyphen at a line break
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("bell\x07 and\x00 null", "bell and null"),
        ("tab\tseparated   words  ", "tab separated words"),
        ("Windows\r\nlines\rand\r\n\r\nold Mac", "Windows\n\nlines\n\nand\n\nold Mac"),
    ],
)
def test_invisible_and_odd_characters(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        (
            "klaagt over media die zelf poliƟek willen be-\ndrijven.",
            "klaagt over media die zelf politiek willen bedrijven.",
        ),
        ("een economische en een infor-\nmaƟeoorlog.", "een economische en een informatieoorlog."),
        ("als men informa-\nƟe en argumenten overneemt", "als men informatie en argumenten overneemt"),
        ("de Nato-Oek-\nraïne Commissie", "de Nato-Oekraïne Commissie"),
        # Suspended hyphens: the fragment shares the word after the conjunction.
        ("vracht-\nen verzendkosten", "vracht- en verzendkosten"),
        (
            "mit einem Energie-\nund Infrastrukturwaffenstillstand",
            "mit einem Energie- und Infrastrukturwaffenstillstand",
        ),
        ("Import-\noder Exportzölle", "Import- oder Exportzölle"),
        (
            "ervaring met veiligheidsbeleid en -strategie hebben",
            "ervaring met veiligheidsbeleid en -strategie hebben",
        ),
        # Real compounds keep their hyphen.
        ("oud-voorzitter van de NAVO-\nRusland Raad", "oud-voorzitter van de NAVO-Rusland Raad"),
        ("die Energie-\nInfrastruktur seines Landes", "die Energie-Infrastruktur seines Landes"),
        ("het NAVO-\nlidmaatschap", "het NAVO-lidmaatschap"),
        ("die COVID-\n19-Pandemie", "die COVID-19-Pandemie"),
    ],
)
def test_hyphens_at_line_breaks(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


def test_hard_wrapped_pdf_text_is_joined_into_paragraphs() -> None:
    assert clean_text(WRAPPED).split("\n\n") == WRAPPED_PARAGRAPHS


def test_a_full_line_ending_a_sentence_continues_the_paragraph() -> None:
    # The next word ("Maar," 5 characters) would not have fitted: the line was full, not finished.
    raw = (
        "Toen PoeƟn op 21 september de gedeeltelijke mobilisaƟe aankondigde, vermeldde hij voor het eerst \n"
        "publiekelijk dat Oekraïne Ɵjdens de onderhandelingen in Istanbul in maart 2022 een \n"
        "posiƟef antwoord had gegeven op de voorstellen van de Russische regering en haar voorstellen. \n"
        '"Maar," zei hij leƩerlijk, "een vreedzame oplossing kwam het Westen niet goed uit, dus gaf het \n'
        'Kiev in feite de opdracht om alle overeenkomsten nieƟg te verklaren." \n'
    )
    assert clean_text(raw) == (
        "Toen Poetin op 21 september de gedeeltelijke mobilisatie aankondigde, vermeldde hij voor het eerst "
        "publiekelijk dat Oekraïne tijdens de onderhandelingen in Istanbul in maart 2022 een positief "
        "antwoord "
        'had gegeven op de voorstellen van de Russische regering en haar voorstellen. "Maar," zei hij '
        "letterlijk, "
        '"een vreedzame oplossing kwam het Westen niet goed uit, dus gaf het Kiev in feite de opdracht om '
        "alle "
        'overeenkomsten nietig te verklaren."'
    )


def test_list_items_in_wrapped_text_start_paragraphs() -> None:
    raw = (
        "Het rapport van de commissie noemt drie voorwaarden voor een akkoord tussen de partijen, namelijk "
        "de \n"
        "volgende punten die in de komende weken door de onderhandelaars moeten worden uitgewerkt en "
        "getoetst: \n"
        "- een staakt-het-vuren langs de gehele frontlijn van de oorlog in het oosten van het land en in "
        "het \n"
        "zuiden\n"
        "- de terugtrekking van de troepen\n"
    )
    assert clean_text(raw).split("\n\n") == [
        "Het rapport van de commissie noemt drie voorwaarden voor een akkoord tussen de partijen, namelijk "
        "de "
        "volgende punten die in de komende weken door de onderhandelaars moeten worden uitgewerkt en "
        "getoetst:",
        "- een staakt-het-vuren langs de gehele frontlijn van de oorlog in het oosten van het land en in "
        "het zuiden",
        "- de terugtrekking van de troepen",
    ]


def test_web_text_keeps_one_paragraph_per_line() -> None:
    raw = (
        "Rutte sieht derzeit keinerlei Hinweise darauf, dass Putin Interesse an einem Ende des Krieges hat.\n"
        "Ukraine bittet um Flugabwehr\n"
        "Die Ukraine bat die NATO um die Bereitstellung weiterer Flugabwehrsysteme.\n"
        "Besserer Schutz vor hybriden Angriffen\n"
        "Diese Nachricht wurde am 03.12.2024 im Programm Deutschlandfunk gesendet.\n"
    )
    assert clean_text(raw) == raw.strip().replace("\n", "\n\n")


@pytest.mark.parametrize(
    "line",
    [
        "1. Zum Inhalt springen",
        "2. Zur Hauptnavigation springen",
        "3. Zu weiteren Angeboten der DW springen",
        "Den nächsten Abschnitt Mehr zum Thema überspringen",
        "Skip to main content",
        "Ga naar de inhoud",
        "PolitikEuropa",
        "Newsletter abonnieren",
        "Schrijf je gratis in voor de nieuwsbrief",
        "NATO-Rat in Bukarest. Wie umgehen mit Russland?Bild: Andreea Alexandru/AP/picture alliance",
        "Außenminister Blinken, Generalsekretär Stoltenberg: Die USA bestimmen Bild: Vadim "
        "Ghirdau/AFP/Getty Images",
        "Deutsche Außenministerin Baerbock will Selbstverteidigung der Ukraine stärkenBild: Bernd Riegert/DW",
        "Premier Rutte in Brussel. Foto: ANP",
        "Photo: picture-alliance/dpa/M. Kappeler",
        "© 2023 EMMA",
        "Copyright 2024 Deutschlandfunk",
        "Seite 3 von 10",
        "12",
        "Anzeige",
    ],
)
def test_boilerplate_lines_are_dropped(line: str) -> None:
    assert clean_text(f"Erster Absatz.\n{line}\nZweiter Absatz.") == "Erster Absatz.\n\nZweiter Absatz."


def test_newsletter_teaser_and_its_tagline_are_dropped() -> None:
    raw = (
        "Entsperren Sie den White House Watch-Newsletter kostenlos\n"
        "Ihr Leitfaden dafür, was die US-Wahlen 2024 für Washington und die Welt bedeuten\n"
        "Vladimir Putin hat Russlands Militär angewiesen, 30 Tage lang darauf zu verzichten.\n"
    )
    assert (
        clean_text(raw)
        == "Vladimir Putin hat Russlands Militär angewiesen, 30 Tage lang darauf zu verzichten."
    )


@pytest.mark.parametrize(
    "line",
    [
        "Bron: DPA 0 Ondanks de gespannen betrekkingen heeft Rusland de Europese Unie een deelname "
        "aangeboden.",
        "Das Bild: Er kam, sah und siegte.",  # prose ending a sentence, not a credit
        "Wunsch nach Patriots bleibt",
        "17u44",
        "Bernd Riegert Korrespondent in Brüssel mit Blick auf Menschen, Geschichten und Politik",
        "Der Newsletter erscheint jeden Freitag.",
    ],
)
def test_text_that_resembles_boilerplate_is_kept(line: str) -> None:
    assert clean_text(line) == line


def test_cleaning_is_idempotent_on_the_seeds() -> None:
    for name, raw in seed_texts():
        once = clean_text(raw)
        assert clean_text(once) == once, name


PIECES = list("abcXY19 .?:-\n\t") + ["Ɵ", "Ō", "Ʃ", "ﬁ", "\u00ad", "\u200b", "\u0301", "©", "Bild: X", "en "]


@given(st.lists(st.sampled_from(PIECES), max_size=120).map("".join))
def test_cleaning_is_idempotent(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once


def test_cleaned_seeds_carry_no_extraction_damage() -> None:
    boilerplate = ["springen", "Newsletter", "Ihr Leitfaden", "Bild:", "PolitikEuropa"]
    for name, raw in seed_texts():
        cleaned = clean_text(raw)
        assert not set(GLYPHS) & set(cleaned), name
        assert "-\n" not in cleaned, name
        assert "\n\n\n" not in cleaned and "\n" not in cleaned.replace("\n\n", ""), name
        assert "  " not in cleaned and " \n" not in cleaned and "\n " not in cleaned, name
        for paragraph in cleaned.split("\n\n"):
            assert not any(marker in paragraph for marker in boilerplate), (name, paragraph)


def test_seed_000_starts_with_its_header_paragraphs() -> None:
    cleaned = clean_text((SEEDS / "000_d6b9d14a00a44e16.txt").read_text(encoding="utf-8"))
    assert cleaned.split("\n\n")[:3] == [
        "Uit het Duits feministische Magazine EMMA (eerder verschenen in de Zwitserse Internetkrant "
        "Zeitgeschehen im Focus).",
        "Zie https://www.emma.de/artikel/russland-will-verhandeln-340083",
        '"Rusland wil onderhandelen!"',
    ]
    assert (
        "\n\nWelke waarde geeft u aan de berichtgeving over Oekraïne in onze reguliere media?\n\n"
        "De oorlog in Oekraïne is niet alleen een militair conflict; het is ook een economische en een "
        "informatieoorlog. In deze informatieoorlog kan men deelnemer aan de oorlog worden als men "
        "informatie "
        "en argumenten overneemt"
    ) in cleaned


def test_seed_002_loses_its_navigation_and_photo_credits() -> None:
    cleaned = clean_text((SEEDS / "002_24e8bf16e2cc36cb.txt").read_text(encoding="utf-8"))
    assert cleaned.split("\n\n")[:3] == [
        "NATO: Russland darf nicht gewinnen",
        "Bernd Riegert Bukarest",
        "30. November 2022",
    ]
    assert "Andreea Alexandru" not in cleaned
    assert cleaned.endswith("Politik in der Europäischen Union")


def test_empty_and_blank_input() -> None:
    assert clean_text("") == ""
    assert clean_text(" \n\u00a0\n\t\n") == ""


def test_cleaning_version_is_recorded() -> None:
    assert CLEANING_VERSION == "1"
