"""Every metric against numbers computed by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from qa.evaluate import metrics
from qa.evaluate.metrics import (
    citation_precision,
    citation_recall,
    fact_present,
    fact_recall,
    first_words,
    hit_at_k,
    normalize,
    percentile,
    reciprocal_rank,
    score_row,
    summarize,
    word_count,
)
from qa.evaluate.run import Record


def test_normalize_applies_nfkc_casefold_and_folds_whitespace() -> None:
    assert normalize("  Straße\u00a0NAVO\n\n Lid\t") == "strasse navo lid"
    assert normalize("Oﬃcier") == "officier"  # the "ffi" ligature is one code point before NFKC
    assert normalize("") == ""


def test_fact_present_is_a_normalised_substring_match_of_any_alias() -> None:
    text = "Oekraïne zag af van het NAVO-lidmaatschap."
    assert fact_present(["nato membership", "navo-lidmaatschap"], text)
    assert fact_present(["NATO membership"], "no NATO\nmembership for Kyiv")
    assert not fact_present(["nato membership"], text)
    # A substring match: the German alias is found inside the Dutch date.
    assert fact_present(["23. Februar"], "tot de lijn van 23. februari 2022")
    assert not fact_present([], text)


def test_fact_recall_is_the_share_of_facts_with_an_alias_in_the_text() -> None:
    facts = [["johnson"], ["9 april", "april 9"], ["kyiv", "kiew"]]
    assert fact_recall(facts, "Boris Johnson reiste am 9. April nach Kiew.") == pytest.approx(2 / 3)
    assert fact_recall(facts, "nothing relevant") == 0.0
    with pytest.raises(ValueError):
        fact_recall([], "text")


def test_hit_at_k_looks_at_the_first_k_sources_only() -> None:
    ranked = ["b.txt", "a.txt", "c.txt"]
    assert hit_at_k({"a.txt"}, ranked, 1) == 0.0
    assert hit_at_k({"a.txt"}, ranked, 2) == 1.0
    assert hit_at_k({"d.txt"}, ranked, 5) == 0.0
    with pytest.raises(ValueError):
        hit_at_k({"a.txt"}, ranked, 0)
    with pytest.raises(ValueError):
        hit_at_k(set(), ranked, 1)


def test_reciprocal_rank_uses_the_first_gold_source_ranked() -> None:
    assert reciprocal_rank({"a.txt", "c.txt"}, ["b.txt", "c.txt", "a.txt"]) == 0.5
    assert reciprocal_rank({"b.txt"}, ["x.txt", "y.txt", "z.txt", "b.txt"]) == 0.25
    assert reciprocal_rank({"a.txt"}, ["b.txt"]) == 0.0
    assert reciprocal_rank({"a.txt"}, []) == 0.0


def test_citation_precision_and_recall_count_distinct_documents() -> None:
    cited = ["a.txt", "b.txt", "a.txt"]  # a.txt cited by two markers
    assert citation_precision(cited, {"a.txt"}) == 0.5
    assert citation_precision(["a.txt"], {"a.txt", "c.txt"}) == 1.0
    assert citation_recall(["a.txt"], {"a.txt", "c.txt"}) == 0.5
    assert citation_recall(cited, {"a.txt"}) == 1.0
    assert citation_recall([], {"a.txt"}) == 0.0
    with pytest.raises(ValueError):
        citation_precision([], {"a.txt"})
    with pytest.raises(ValueError):
        citation_recall(["a.txt"], set())


def test_percentile_interpolates_linearly_like_numpy() -> None:
    assert percentile([3, 1, 2, 4], 25) == 1.75  # rank 0.75 between 1 and 2
    assert percentile([3, 1, 2, 4], 50) == 2.5
    assert percentile([10, 20], 95) == 19.5
    assert percentile([7], 95) == 7
    assert percentile([1, 2, 3], 0) == 1 and percentile([1, 2, 3], 100) == 3
    values = list(np.random.default_rng(7).random(23) * 1000)
    for p in (5, 50, 95, 99):
        assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_word_count_skips_markers_and_punctuation() -> None:
    assert word_count("Rutte sprak [1] met  Trump. [2]") == 4
    assert word_count("Kujat – «ja», 15 % [12]") == 3
    assert word_count("") == 0


def _record(
    lang: str,
    sources: tuple[str, ...],
    refused: bool,
    cited: tuple[str, ...],
    retrieved: tuple[str, ...],
    facts: tuple[str, ...],
    found: tuple[str, ...],
    in_passages: tuple[str, ...],
    words: int,
    latency: float,
) -> Record:
    return Record(
        id=f"q-{latency:.0f}",
        question="?",
        lang=lang,
        answerable=bool(sources),
        sources=sources,
        answer="",
        refused=refused,
        cited_sources=cited,
        retrieved_sources=retrieved,
        facts=facts,
        facts_found=found,
        facts_in_passages=in_passages,
        answer_words=words,
        latency_ms=latency,
    )


# hit@1, hit@5, RR, facts in passages, facts in answer, citation precision, citation recall:
RECORDS = [
    # 0, 1, 1/2, 2/2, 1/2, 1/2, 1/1
    _record(
        "en",
        ("a.txt",),
        False,
        ("a.txt", "b.txt"),
        ("b.txt", "a.txt", "c.txt"),
        ("f1", "f2"),
        ("f1",),
        ("f1", "f2"),
        10,
        100.0,
    ),
    # 1, 1, 1, 1/3, 0/3, 1/1, 1/2
    _record(
        "nl", ("a.txt", "c.txt"), False, ("c.txt",), ("c.txt",), ("f1", "f2", "f3"), (), ("f1",), 20, 200.0
    ),
    # refused: 0, 1, 1/2, 1/1, 0, (left out), 0
    _record("en", ("b.txt",), True, (), ("a.txt", "b.txt"), ("f1",), (), ("f1",), 6, 300.0),
    # unanswerable, refused
    _record("de", (), True, (), ("a.txt",), (), (), (), 7, 1000.0),
]


def test_summarize_overall_row() -> None:
    row = summarize(RECORDS).rows["all"]
    assert (row.n, row.answerable, row.unanswerable) == (4, 3, 1)
    assert row.hit_at_1 == pytest.approx(1 / 3)
    assert row.hit_at_k == 1.0
    assert row.mrr == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert row.fact_recall_passages == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert row.fact_recall_answer == pytest.approx(0.5 / 3)
    assert row.citation_precision == pytest.approx((0.5 + 1) / 2)  # the refused answer is left out
    assert row.citation_recall == pytest.approx((1 + 0.5 + 0) / 3)
    assert row.unanswerable_refused == 1.0
    assert row.answerable_refused == 1
    assert row.median_words == 15  # refusals (6 and 7 words) are not answers
    assert row.latency_p50_ms == 250.0  # 200 + 0.5 * (300 - 200)
    assert row.latency_p95_ms == pytest.approx(895.0)  # rank 2.85: 300 + 0.85 * 700


def test_summarize_splits_by_language_in_a_fixed_order() -> None:
    summary = summarize(RECORDS)
    assert list(summary.rows) == ["all", "en", "nl", "de"]
    en, nl, de = summary.rows["en"], summary.rows["nl"], summary.rows["de"]
    assert (en.n, en.hit_at_1, en.mrr, en.fact_recall_answer) == (2, 0.0, 0.5, 0.25)
    assert (en.citation_precision, en.citation_recall, en.answerable_refused) == (0.5, 0.5, 1)
    assert en.unanswerable_refused is None  # no unanswerable English question
    assert (en.median_words, en.latency_p50_ms) == (10, 200.0)
    assert en.latency_p95_ms == pytest.approx(290.0)
    assert (nl.n, nl.hit_at_1, nl.fact_recall_passages) == (1, 1.0, pytest.approx(1 / 3))
    assert (nl.citation_precision, nl.citation_recall) == (1.0, 0.5)
    assert (de.n, de.answerable, de.unanswerable, de.unanswerable_refused) == (1, 0, 1, 1.0)
    assert de.hit_at_1 is None and de.citation_precision is None and de.median_words is None
    assert de.latency_p95_ms == 1000.0


def test_summarize_puts_other_languages_after_en_nl_de() -> None:
    french = _record("fr", ("a.txt",), False, ("a.txt",), ("a.txt",), ("f",), ("f",), ("f",), 3, 1)
    records = [RECORDS[3], french]
    assert list(summarize(records).rows) == ["all", "de", "fr"]


def test_difference_subtracts_scores_and_keeps_none() -> None:
    ours = summarize(RECORDS).rows
    plain = summarize(RECORDS[:2]).rows["all"]
    diff = metrics.difference(ours["all"], plain)
    assert "n" not in diff and "answerable" not in diff
    assert diff["hit_at_1"] == pytest.approx(1 / 3 - 1 / 2)
    assert diff["answerable_refused"] == 1
    assert diff["unanswerable_refused"] is None  # the plain run had no unanswerable question


def test_row_to_dict_rounds_for_json() -> None:
    row = summarize(RECORDS).rows["all"].to_dict()
    assert row["hit_at_1"] == 0.3333
    assert row["latency_p95_ms"] == 895.0
    assert row["n"] == 4


def test_first_words_counts_words_as_word_count_does() -> None:
    text = "Ukraine offered [1] to stay - neutral, in return [2] for guarantees."
    assert first_words(text, 3) == "Ukraine offered to"
    assert first_words(text, 5) == "Ukraine offered to stay - neutral,"  # "-" is no word
    assert word_count(first_words(text, 5)) == 5
    assert first_words(text, 100) == "Ukraine offered to stay - neutral, in return for guarantees."
    assert first_words("", 3) == ""


def test_facts_within_the_first_words_are_averaged_like_facts_in_the_answer() -> None:
    long_ = replace(RECORDS[0], facts_in_first_words=())  # f1 is in the answer, but after 60 words
    short = replace(RECORDS[1], facts_found=("f1",), facts_in_first_words=("f1",))
    row = score_row([long_, short, RECORDS[2]])
    assert row.fact_recall_answer == pytest.approx((0.5 + 1 / 3 + 0) / 3)
    assert row.fact_recall_first_words == pytest.approx((0 + 1 / 3 + 0) / 3)
