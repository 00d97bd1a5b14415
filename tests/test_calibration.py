"""The per-collection refusal bar: probe questions' best sentences, and the cache of their vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.compose.calibration import PROBES, Calibration, calibrate, probe_vectors
from qa.settings import ComposeSettings
from tests.fakes import FakeEmbedder


def test_each_probe_scores_its_best_quotable_sentence() -> None:
    sentences = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], np.float32)
    probes = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    usable = np.array([False, True, True])  # the first sentence (say, a question) is never quoted
    calibration = calibrate(sentences, usable, probes)
    np.testing.assert_allclose(calibration.probe_scores, [0.6, 1.0])
    assert calibrate(sentences, np.zeros(3, bool), probes).probe_scores.size == 0


def test_the_bar_is_a_quantile_of_the_probe_scores_plus_a_margin() -> None:
    calibration = Calibration(np.array([0.1, 0.2, 0.3, 0.4, 0.9], np.float32))
    settings = ComposeSettings(refuse_quantile=0.75, refuse_margin=0.01)
    # numpy's linear quantile: rank 0.75 * 4 = 3 -> 0.4; one off-topic outlier (0.9) does not move it.
    assert calibration.bar(settings) == pytest.approx(0.41)
    assert calibration.bar(settings.model_copy(update={"refuse_quantile": 0.5})) == pytest.approx(0.31)
    assert Calibration(np.zeros(0, np.float32)).bar(settings) == pytest.approx(0.01)


def test_probe_vectors_are_embedded_once_per_model_and_then_read_from_the_cache(tmp_path: Path) -> None:
    class Counting(FakeEmbedder):
        queries = 0

        def embed_queries(self, texts):  # type: ignore[no-untyped-def]
            Counting.queries += len(texts)
            return super().embed_queries(texts)

    first = probe_vectors(Counting(), tmp_path)
    assert first.shape == (len(PROBES), 64) and Counting.queries == len(PROBES)
    again = probe_vectors(Counting(), tmp_path)
    np.testing.assert_array_equal(first, again)
    assert Counting.queries == len(PROBES)  # read back, not embedded again
    probe_vectors(Counting(checksum="another model"), tmp_path)
    assert Counting.queries == 2 * len(PROBES)  # another model gets its own vectors


def test_the_probes_cover_the_three_languages_and_none_is_a_gold_question() -> None:
    from qa.evaluate.gold import load_gold
    from tests.conftest import ROOT

    assert len(PROBES) == len(set(PROBES)) == 60
    gold = {g.question for path in (ROOT / "gold").rglob("*.jsonl") for g in load_gold(path)}
    assert not gold & set(PROBES)
