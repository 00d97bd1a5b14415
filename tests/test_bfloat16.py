"""The bfloat16 copy of the embedding weights, made once at pull time, and what loading it changes."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save

from tests.conftest import REAL_CACHE
from tests.test_provision import MODEL_FILES, _build_index
from vectorstore.models.convert import to_bfloat16
from vectorstore.models.provision import MARKER_NAME, bfloat16_model_dir, pull_embedding_model

TENSORS = {
    "embed.weight": torch.linspace(-3.0, 3.0, 96, dtype=torch.float32).reshape(12, 8) / 7,
    "norm.weight": torch.tensor([1.0 + 2**-10, 0.1, -0.3], dtype=torch.float32),
    "position_ids": torch.arange(5, dtype=torch.int64),
}


def test_float32_tensors_are_rounded_as_a_bfloat16_load_would_and_others_kept(tmp_path: Path) -> None:
    src, dst = tmp_path / "f32.safetensors", tmp_path / "bf16.safetensors"
    src.write_bytes(save(TENSORS))
    digest = to_bfloat16(src, dst, progress=False)
    assert digest == hashlib.sha256(dst.read_bytes()).hexdigest()
    out = load_file(str(dst))
    assert out["embed.weight"].dtype == torch.bfloat16
    assert torch.equal(out["embed.weight"], TENSORS["embed.weight"].to(torch.bfloat16))
    assert torch.equal(out["norm.weight"], TENSORS["norm.weight"].to(torch.bfloat16))
    assert torch.equal(out["position_ids"], TENSORS["position_ids"])
    assert dst.stat().st_size < src.stat().st_size


def test_the_pull_makes_the_bfloat16_folder_once_and_records_its_checksum(tmp_path: Path) -> None:
    weights = save(TENSORS)
    index = _build_index(tmp_path / "index", {**MODEL_FILES, "model_download/model.safetensors": weights})
    spec = replace(index.spec, bfloat16_dir="bfloat16")
    cache = tmp_path / "cache"
    assert bfloat16_model_dir(cache, spec) is None
    folder = pull_embedding_model(cache, progress=False, spec=spec, downloader=index.download)
    copy = bfloat16_model_dir(cache, spec)
    assert copy == folder / "bfloat16"
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*")) == [
        "1_Pooling",
        "1_Pooling/config.json",
        "config.json",
        "model.safetensors",
    ]
    assert os.path.samefile(copy / "config.json", folder / "config.json")  # linked, not copied
    marker = json.loads((folder / MARKER_NAME).read_text())
    assert marker["bfloat16_sha256"] == hashlib.sha256((copy / "model.safetensors").read_bytes()).hexdigest()
    assert marker["bfloat16_bytes"] == (copy / "model.safetensors").stat().st_size
    assert (
        marker["weights_sha256"] == spec.weights_sha256 and marker["format"] == 1
    )  # older code still reads it
    assert (
        stat.S_IMODE(copy.stat().st_mode) & 0o055
        and stat.S_IMODE((copy / "model.safetensors").stat().st_mode) & 0o044
    )  # readable by others, like the float32 folder (umask 022)

    before = (copy / "model.safetensors").stat().st_mtime_ns
    pull_embedding_model(cache, progress=False, spec=spec, downloader=index.download)
    assert (copy / "model.safetensors").stat().st_mtime_ns == before  # made once

    # A damaged copy: trusted by its size alone, re-made by --verify.
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(data))
    pull_embedding_model(cache, progress=False, spec=spec, downloader=index.download)
    assert (copy / "model.safetensors").read_bytes() == bytes(data)
    pull_embedding_model(cache, progress=False, verify=True, spec=spec, downloader=index.download)
    assert hashlib.sha256((copy / "model.safetensors").read_bytes()).hexdigest() == marker["bfloat16_sha256"]
    assert len(index.calls) == 3  # the float32 weights were fine: nothing downloaded again


def test_a_cache_pulled_before_the_copy_existed_gets_it_on_the_next_pull(tmp_path: Path) -> None:
    index = _build_index(
        tmp_path / "index", {**MODEL_FILES, "model_download/model.safetensors": save(TENSORS)}
    )
    cache = tmp_path / "cache"
    pull_embedding_model(cache, progress=False, spec=index.spec, downloader=index.download)  # no copy
    spec = replace(index.spec, bfloat16_dir="bfloat16")
    assert bfloat16_model_dir(cache, spec) is None
    pull_embedding_model(cache, progress=False, spec=spec, downloader=index.download)
    assert bfloat16_model_dir(cache, spec) is not None and len(index.calls) == 3


def test_a_bfloat16_load_of_the_packaged_model_reads_the_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vectorstore.models.embedding as embedding
    from vectorstore.settings import EmbeddingSettings

    sources: list[str] = []
    monkeypatch.setattr(embedding, "_LOADED", {})
    monkeypatch.setattr(embedding, "is_pulled", lambda cache, spec: True)
    monkeypatch.setattr(embedding, "_load", lambda source, settings, local: sources.append(source))
    copy = tmp_path / "models" / "embeddinggemma-300m" / "bfloat16"
    for dtype, made in (("bfloat16", None), ("bfloat16", copy), ("float32", copy)):
        monkeypatch.setattr(embedding, "bfloat16_model_dir", lambda cache, spec, made=made: made)
        embedding.SentenceTransformerEmbedder(EmbeddingSettings(dtype=dtype), tmp_path)._loaded()
    assert sources == [str(copy.parent), str(copy), str(copy.parent)]


@pytest.mark.integration
def test_the_packaged_model_from_its_bfloat16_copy_embeds_exactly_as_before() -> None:
    """Same weights bit for bit, so the same vectors: an index built before the copy stays valid."""
    from sentence_transformers import SentenceTransformer

    from vectorstore.models.provision import packaged_model_dir
    from vectorstore.models.specs import EMBEDDINGGEMMA

    pull_embedding_model(REAL_CACHE, progress=True)
    copy = bfloat16_model_dir(REAL_CACHE, EMBEDDINGGEMMA)
    assert copy is not None
    texts = ["Oekraïne had toegezegd af te zien van het NAVO-lidmaatschap.", "What was offered at Istanbul?"]
    vectors = []
    for folder in (packaged_model_dir(REAL_CACHE), copy):
        model = SentenceTransformer(
            str(folder), device="cpu", model_kwargs={"dtype": torch.bfloat16}, local_files_only=True
        )
        vectors.append(model.encode_document(texts, convert_to_numpy=True))
        del model
    assert np.array_equal(vectors[0], vectors[1])
