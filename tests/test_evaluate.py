"""`evaluate()` with fake answerers, the plain baseline with a fake embedder, and `citeqa eval` end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings

import qa.engine
import qa.evaluate.baseline
from qa.cli import main
from qa.engine import clear_engines
from qa.evaluate.baseline import BaselinePipeline
from qa.evaluate.gold import GoldQuestion
from qa.evaluate.run import baseline_records_path, evaluate
from qa.settings import Settings
from qa.types import Answer, Citation, Passage
from tests.conftest import REAL_CACHE, SEEDS
from tests.fakes import FakeEmbedder
from vectorstore.indexer import build
from vectorstore.models.provision import pull_embedding_model
from vectorstore.settings import ChunkingSettings, StoreSettings


def _passage(rank: int, source: str, text: str) -> Passage:
    return Passage(rank, f"c{rank}", source, source, None, None, None, text, 1.0 / rank, 0.5)


def _citation(n: int, source: str, quote: str) -> Citation:
    return Citation(n, source, source, None, None, None, f"c{n}", quote, quote, 0, len(quote), 0.5)


def _gold(
    qid: str, question: str, sources: tuple[str, ...], facts: tuple[tuple[str, ...], ...]
) -> GoldQuestion:
    return GoldQuestion(qid, question, "en", bool(sources), sources, facts, "")


GOLD = [
    _gold("q1", "Who went to Kyiv?", ("a.txt",), (("johnson",), ("9 april", "april 9"), ("veto",))),
    _gold("q2", "What is the capital of Mars?", (), ()),
]
ANSWERS = {
    "Who went to Kyiv?": Answer(
        question="Who went to Kyiv?",
        text="Boris Johnson came on 9 April. [1] He said so. [2] Johnson again. [3]",
        refused=False,
        mode="extractive",
        language="en",
        citations=(_citation(1, "a.txt", "x"), _citation(2, "b.txt", "y"), _citation(3, "a.txt", "z")),
        # "veto" is split over two passages: it must not count as found in the passages.
        passages=(
            _passage(1, "b.txt", "Johnson flew ve"),
            _passage(2, "a.txt", "to on 9 April"),
            _passage(3, "b.txt", "again"),
        ),
    ),
    # The refusal happens to contain nothing; a refused answer finds no facts whatever its text.
    "What is the capital of Mars?": Answer(
        question="What is the capital of Mars?",
        text="The documents do not answer this.",
        refused=True,
        mode="extractive",
        language="en",
        passages=(_passage(1, "c.txt", "Mars"),),
    ),
}


def test_evaluate_records_what_each_answer_cites_retrieves_and_contains() -> None:
    ticks = iter([10.0, 10.25, 20.0, 20.5])
    progressed: list[int] = []
    records = evaluate(GOLD, ANSWERS.__getitem__, progressed.append, clock=lambda: next(ticks))
    first, second = records
    assert first.cited_sources == ("a.txt", "b.txt")
    assert first.retrieved_sources == ("b.txt", "a.txt")
    assert first.facts == ("johnson", "9 april", "veto")
    assert first.facts_found == ("johnson", "9 april")
    assert first.facts_in_passages == ("johnson", "9 april")
    assert first.answer_words == 11
    assert first.latency_ms == 250.0
    assert (second.refused, second.facts_found, second.cited_sources) == (True, (), ())
    assert second.latency_ms == 500.0
    assert progressed == [1, 1]
    required = {"id", "question", "answer", "refused", "cited_sources", "retrieved_sources", "facts_found"}
    assert set(first.to_dict()) >= required | {"latency_ms"}


def test_baseline_records_path_sits_next_to_out() -> None:
    assert baseline_records_path(Path("runs/records.jsonl")) == Path("runs/records.baseline.jsonl")


class LangChainFake(Embeddings):
    """The hashed bag-of-words fake behind LangChain's Embeddings interface."""

    def __init__(self) -> None:
        self._fake = FakeEmbedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._fake.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._fake.embed_queries([text])[0].tolist()


DOCS = {
    "alpha.txt": "Alpha report\n\nThe harbour of Rotterdam handled four hundred million tonnes of cargo in "
    "2023. The port authority expects growth next year. Ships from Asia bring containers with electronics.\n",
    "beta.txt": "Beta bericht\n\nDe molen van Kinderdijk werd gebouwd in 1740 door de waterschappen. "
    "Toeristen bezoeken de molens elk jaar in groten getale.\n",
    "gamma.txt": "Gamma Bericht\n\nDer Bahnhof in Leipzig wurde im Jahr 1915 eröffnet und ist sehr groß. "
    "Täglich fahren dort viele Züge in alle Richtungen ab.\n",
}


def _line(qid: str, question: str, lang: str, sources: list[str], facts: list[list[str]]) -> dict[str, Any]:
    return {
        "id": qid,
        "question": question,
        "lang": lang,
        "answerable": bool(sources),
        "sources": sources,
        "facts": facts,
        "reference": "...",
    }


GOLD_LINES = [
    _line(
        "e1",
        "How much cargo did the harbour of Rotterdam handle in 2023?",
        "en",
        ["alpha.txt"],
        [["four hundred million", "400 million"], ["2023"]],
    ),
    _line("n1", "Wanneer werd de molen van Kinderdijk gebouwd?", "nl", ["beta.txt"], [["1740"]]),
    _line("d1", "Wann wurde der Bahnhof in Leipzig eröffnet?", "de", ["gamma.txt"], [["1915"]]),
    _line("u1", "Was kostet ein Kilo Äpfel?", "de", [], []),
]


@pytest.fixture
def collection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path, Path]]:
    """Documents, an index built with the fake embedder, a gold file; the CLI wired to the fakes."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    index = tmp_path / "index"
    build([docs], index, embedder=FakeEmbedder(), chunking=ChunkingSettings(), store_settings=StoreSettings())
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(line) + "\n" for line in GOLD_LINES), encoding="utf-8")
    monkeypatch.setattr(qa.engine, "SentenceTransformerEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.evaluate.baseline, "plain_embeddings", lambda settings: LangChainFake())
    clear_engines()
    yield docs, index, gold
    clear_engines()


def test_citeqa_eval_json_and_records_end_to_end(
    collection: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs, index, gold = collection
    out = tmp_path / "runs" / "records.jsonl"
    argv = [
        "eval",
        str(gold),
        "--index-dir",
        str(index),
        "--docs",
        str(docs),
        "--baseline",
        "--json",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    ours, plain, diff = summary["ours"], summary["plain"], summary["difference"]
    assert list(ours) == ["all", "en", "nl", "de"]
    assert (ours["all"]["n"], ours["all"]["answerable"], ours["de"]["n"]) == (4, 3, 2)
    assert ours["all"]["hit_at_1"] == 1.0
    assert ours["all"]["fact_recall_answer"] == 1.0
    assert ours["all"]["citation_precision"] == 1.0
    assert (ours["all"]["unanswerable_refused"], ours["all"]["answerable_refused"]) == (1.0, 0)
    assert plain["all"]["unanswerable_refused"] == 0.0  # the plain pipeline never refuses
    assert plain["all"]["hit_at_1"] == 1.0
    assert diff["all"]["unanswerable_refused"] == 1.0
    assert diff["all"]["median_words"] < 0  # quoting one sentence beats returning the whole passage

    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["e1", "n1", "d1", "u1"]
    assert records[0]["cited_sources"] == ["alpha.txt"] and records[0]["retrieved_sources"][0] == "alpha.txt"
    assert records[0]["facts_found"] == ["four hundred million", "2023"]
    assert records[3]["refused"] is True and records[3]["cited_sources"] == []
    baseline_lines = baseline_records_path(out).read_text(encoding="utf-8").splitlines()
    baseline = [json.loads(line) for line in baseline_lines]
    assert [r["refused"] for r in baseline] == [False] * 4
    assert all(len(r["cited_sources"]) == 1 for r in baseline)


def test_citeqa_eval_prints_a_table_with_both_runs_and_the_difference(
    collection: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    docs, index, gold = collection
    assert main(["eval", str(gold), "--index-dir", str(index), "--docs", str(docs), "--baseline"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["all", "languages", "ours", "plain", "difference"] in rows
    assert ["en", "en", "nl", "nl", "de", "de"] in rows
    assert ["by", "language", "ours", "plain", "ours", "plain", "ours", "plain"] in rows
    assert ["questions", "4", "4"] in rows and ["questions", "1", "1", "1", "1", "2", "2"] in rows
    assert ["unans.", "refused", "1.00", "0.00", "+1.00"] in rows


def test_citeqa_eval_without_baseline_prints_ours_only(
    collection: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, index, gold = collection
    assert main(["eval", str(gold), "--index-dir", str(index), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == {"gold", "mode", "k", "seconds", "ours"}
    assert summary["mode"] == "extractive"


def test_citeqa_eval_rejects_a_malformed_gold_file_before_answering(
    collection: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, index, _ = collection
    gold = tmp_path / "broken.jsonl"
    gold.write_text(json.dumps(GOLD_LINES[0]) + "\n" + '{"id": "x"\n', encoding="utf-8")
    assert main(["eval", str(gold), "--index-dir", str(index)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"citeqa: {gold}:2: not valid JSON")
    assert captured.err.count("\n") == 1


def test_citeqa_eval_rejects_gold_sources_missing_from_the_index(
    collection: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, index, _ = collection
    gold = tmp_path / "other.jsonl"
    gold.write_text(json.dumps({**GOLD_LINES[1], "sources": ["elsewhere.txt"]}) + "\n", encoding="utf-8")
    assert main(["eval", str(gold), "--index-dir", str(index)]) == 1
    assert "question n1 names source 'elsewhere.txt', which is not in the index" in capsys.readouterr().err


def test_citeqa_eval_baseline_needs_the_indexed_documents(
    collection: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, index, gold = collection
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "alpha.txt").write_text(DOCS["alpha.txt"], encoding="utf-8")
    assert main(["eval", str(gold), "--index-dir", str(index), "--baseline", "--docs", str(partial)]) == 1
    captured = capsys.readouterr()
    assert "question n1 names source 'beta.txt', which is not in --docs" in captured.err
    assert captured.out == ""


def test_baseline_answers_with_the_top_chunk_and_never_refuses(tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text("Filler words here. " * 150, encoding="utf-8")  # 2850 characters
    (tmp_path / "mill.txt").write_text(DOCS["beta.txt"], encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("De molen van Kinderdijk", encoding="utf-8")
    plain = BaselinePipeline(tmp_path, Settings(), embeddings=LangChainFake())
    assert plain.sources == {"long.txt", "mill.txt"}
    assert plain.chunks == 4 + 1  # 1000/200 splits 2850 characters into four chunks
    result = plain.answer("Wanneer werd de molen van Kinderdijk gebouwd?")
    assert (result.refused, result.text) == (False, DOCS["beta.txt"].strip())
    assert [c.source for c in result.citations] == ["mill.txt"]
    assert len(result.passages) == 4
    assert plain.answer("zebra").refused is False


@pytest.mark.integration
def test_baseline_with_the_real_model_answers_across_languages(tmp_path: Path) -> None:
    pull_embedding_model(REAL_CACHE, progress=False)  # returns at once when the setup step pulled it
    for name in ("001_5b70a646f9b877f3.txt", "003_70503c2fd6e06528.txt"):  # the two short seeds: a few chunks
        (tmp_path / name).write_bytes((SEEDS / name).read_bytes())
    plain = BaselinePipeline(tmp_path, Settings(cache_dir=REAL_CACHE))
    english_about_dutch = plain.answer("Who is the Russian ambassador to the EU quoted about PESCO?")
    assert english_about_dutch.citations[0].source == "001_5b70a646f9b877f3.txt"
    assert "Tsjizjov" in english_about_dutch.text
    dutch_about_german = plain.answer("Wat zei Rutte over Poetin en vrede?")
    assert dutch_about_german.citations[0].source == "003_70503c2fd6e06528.txt"


def test_citeqa_eval_generative_reports_verification_and_records_the_mode(
    collection: tuple[Path, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import qa.generate.rewrite
    from vectorstore.errors import GenerationUnavailable

    def unavailable(settings: object) -> None:
        raise GenerationUnavailable("The local chat model is not in the cache.")

    monkeypatch.setattr(qa.generate.rewrite, "load_chat_model", unavailable)
    _, index, gold = collection
    out = tmp_path / "records.jsonl"
    argv = ["eval", str(gold), "--index-dir", str(index), "--mode", "generative", "--json", "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["mode"] == "generative"
    # Every answer fell back: none passed verification; the refusal counts neither way.
    assert summary["ours"]["all"]["verified"] == 0.0 and summary["ours"]["all"]["latency_p50_ms"] >= 0
    assert summary["ours"]["all"]["fact_recall_answer"] == 1.0  # the extractive answers, as before
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["mode"] for r in records] == ["extractive-fallback"] * 3 + ["generative"]
