"""How high an unanswerable question scores on this collection: the refusal bar, measured per collection.

A similarity of 0.3 between a question and its best sentence means different things in different
collections: a few hundred sentences on one topic, or thousands on many, or a German question over
English text. So the bar is not a fixed number. Off-topic probe questions in English, Dutch and German
("Who painted the Night Watch?") are asked of the collection once; how well their best sentences match
is what a question the collection cannot answer scores here. A question is answered only when its best
sentence matches clearly better than most probes' best sentences do (`ComposeSettings.refuse_quantile`
and `refuse_margin`). The probes' vectors are embedded once per model and kept in the cache.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.settings import ComposeSettings
from vectorstore.models.embedding import Embedder
from vectorstore.stores.base import Vectors

#: Questions no ordinary document collection is about, a third in each supported language. A probe that
#: happens to be on topic for a collection only moves the upper tail, which the bar does not use.
PROBES = (
    "What is the melting point of iron?",
    "Who painted the Mona Lisa?",
    "How many players are on a football team?",
    "What is the capital of Canada?",
    "When did the first person walk on the moon?",
    "How do you bake sourdough bread?",
    "Which planet is closest to the sun?",
    "What is the chemical formula of table salt?",
    "Who wrote the novel Pride and Prejudice?",
    "How long does it take to fly from London to New York?",
    "What is the tallest mountain in Africa?",
    "Which instrument has 88 keys?",
    "How many bones are in the adult human body?",
    "What programming language was created by Guido van Rossum?",
    "Who won the Wimbledon men's final in 2005?",
    "What is the best way to treat a sunburn?",
    "Which animal is the largest mammal on earth?",
    "How does a refrigerator keep food cold?",
    "What currency is used in Japan?",
    "When was the Golden Gate Bridge opened?",
    "Wat is het smeltpunt van goud?",
    "Wie schilderde de Nachtwacht?",
    "Hoeveel spelers staan er in een volleybalteam op het veld?",
    "Wat is de hoofdstad van Peru?",
    "Hoe maak je een appeltaart?",
    "Welke rivier stroomt door Keulen?",
    "Wie schreef het boek Max Havelaar?",
    "Hoe lang duurt een marathon voor een gemiddelde loper?",
    "Wat is de grootste woestijn ter wereld?",
    "Welk gas ademen planten uit?",
    "Hoeveel tanden heeft een volwassen mens?",
    "Wanneer werd de Afsluitdijk voltooid?",
    "Wie won het wereldkampioenschap schaatsen in 2010?",
    "Hoe werkt een warmtepomp?",
    "Welke kleur krijg je als je blauw en geel mengt?",
    "Wat is de snelheid van het licht?",
    "Hoe verzorg je een kamerplant?",
    "Welk dier legt de grootste eieren?",
    "Wat kost een treinkaartje van Amsterdam naar Utrecht?",
    "Wie ontdekte penicilline?",
    "Wie hoch ist der Kölner Dom?",
    "Wer komponierte die Neunte Sinfonie?",
    "Wie viele Einwohner hat München?",
    "Was ist die Hauptstadt von Argentinien?",
    "Wie bereitet man einen Apfelstrudel zu?",
    "Welcher Fluss fließt durch Wien?",
    "Wann wurde das Telefon erfunden?",
    "Wer gewann den Eurovision Song Contest 2014?",
    "Wie funktioniert eine Solarzelle?",
    "Was ist das größte Organ des menschlichen Körpers?",
    "Welche Farbe hat ein Rotkehlchen?",
    "Wie lange braucht das Licht von der Sonne zur Erde?",
    "Wer schrieb den Roman Der Zauberberg?",
    "Wie viele Beine hat eine Spinne?",
    "Welches Element hat das chemische Symbol Fe?",
    "Wie pflegt man einen Rasen im Sommer?",
    "Wo liegt der Bodensee?",
    "Was kostet eine Briefmarke in Deutschland?",
    "Welche Sprache spricht man in Brasilien?",
    "Wie entsteht ein Regenbogen?",
)


@dataclass(frozen=True)
class Calibration:
    """The best-sentence similarity of each probe question on one collection."""

    probe_scores: np.ndarray

    def bar(self, settings: ComposeSettings) -> float:
        """The similarity a question's best sentence must reach to be answered."""
        if self.probe_scores.size == 0:
            return settings.refuse_margin
        return float(np.quantile(self.probe_scores, settings.refuse_quantile)) + settings.refuse_margin


def calibrate(sentence_vectors: np.ndarray, usable: np.ndarray, probe_vectors: np.ndarray) -> Calibration:
    """Each probe's best similarity to a quotable sentence of the collection (rows where `usable`)."""
    quotable = sentence_vectors[usable]
    if quotable.shape[0] == 0:
        return Calibration(np.zeros(0, np.float32))
    return Calibration((quotable @ probe_vectors.T).max(axis=0).astype(np.float32))


def calibrate_nearest(
    vectors: Vectors, usable: np.ndarray, probe_vectors: np.ndarray, hits: int
) -> Calibration:
    """As `calibrate`, from each probe's `hits` nearest sentences in an approximate index (an index
    too large to compare every sentence with every probe): the best quotable one among them."""
    found = vectors.nearest(probe_vectors, hits)
    rows = np.unique(found[found >= 0])
    rows = rows[usable[rows]]
    if rows.size == 0:
        return Calibration(np.zeros(0, np.float32))
    scores = vectors.sentences(rows) @ probe_vectors.T  # (rows, probes)
    local = {int(r): i for i, r in enumerate(rows)}
    best = np.full(len(probe_vectors), -1.0, dtype=np.float32)
    for p, row in enumerate(found):
        mine = [local[int(r)] for r in row if int(r) in local]
        if mine:
            best[p] = scores[mine, p].max()
    return Calibration(best)


def probe_vectors(embedder: Embedder, cache_dir: Path) -> np.ndarray:
    """The probes' query vectors for this model, embedded once and then read from `cache_dir`."""
    key = hashlib.sha256(
        "\n".join((embedder.model_id, embedder.fingerprint, str(embedder.dimension), *PROBES)).encode()
    ).hexdigest()[:16]
    path = cache_dir / "calibration" / f"probes-{key}.npy"
    try:
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape == (len(PROBES), embedder.dimension):
            return vectors
    except (OSError, ValueError):
        pass
    vectors = np.asarray(embedder.embed_queries(list(PROBES)), dtype=np.float32)
    try:  # a cache that cannot be written only costs embedding the probes again next time
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy")
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, vectors, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass
    return vectors
