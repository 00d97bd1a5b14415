"""The document collection behind the web chat: its folders, the uploads into it, and its index builds.

`Collection` knows the configured folders and the uploads folder (inside the index folder), saves
acceptable uploads there under safe names (`safe_upload_name`, `check_upload`), and runs at most one
index build at a time in a background thread (`BuildState`), which every waiting page follows. The
collection is what the index already holds plus those folders: a build adds and updates, it never
drops a document because the server was started elsewhere.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa.engine import Engine, get_engine
from qa.settings import Settings
from qa.web.render import render_status
from vectorstore import store
from vectorstore.errors import CiteqaError
from vectorstore.indexer import BuildReport
from vectorstore.ingest.converters import SUFFIXES_IN_ORDER
from vectorstore.models.embedding import Embedder
from vectorstore.stores.base import Store
from vectorstore.stores.factory import open_store

log = logging.getLogger(__name__)

#: The web chat accepts every type a collection may hold.
UPLOAD_SUFFIXES = SUFFIXES_IN_ORDER
# Text formats: a NUL byte in their first kilobyte means the file is something else.
_TEXT_SUFFIXES = (".txt", ".md", ".html", ".htm", ".rtf", ".eml", ".mbox")
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\- ]+", re.UNICODE)
_MAX_NAME_CHARS = 120


def default_folders(settings: Settings) -> list[Path]:
    """What the web app indexes besides what the index holds: the configured collections and uploads."""
    return [*settings.collections, settings.uploads_dir]


def uploads_dir(settings: Settings) -> Path:
    return settings.uploads_dir


def safe_upload_name(name: str) -> str | None:
    """A plain file name for an upload (no folders, no leading dots, no odd characters), or None."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/")).rsplit("/", 1)[-1]
    base = _UNSAFE_NAME_CHARS.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem.strip(" ._"):
        return None
    stem = stem[: _MAX_NAME_CHARS - len(suffix) - 1].strip()
    return f"{stem}.{suffix.lower()}"


def check_upload(name: str, data: bytes, max_bytes: int) -> str | None:
    """Why an uploaded file is refused, in one line, or None when it may be indexed."""
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        return f"{name}: {suffix or 'no'} files are not accepted; upload {', '.join(UPLOAD_SUFFIXES)}."
    if not data:
        return f"{name}: the file is empty."
    if len(data) > max_bytes:
        return f"{name}: {len(data) / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit."
    if suffix == ".pdf" and not data.startswith(b"%PDF-"):
        return f"{name}: not a PDF file."
    if suffix in _TEXT_SUFFIXES and b"\0" in data:  # anywhere, not just at the start: no text has a NUL
        return f"{name}: not a text file."
    return None


class BuildCancelled(CiteqaError):
    """The build was cancelled from the page; the index stays as it was before it."""


@dataclass(frozen=True)
class Saved:
    """An upload saved into the uploads folder: its name there, and whether this upload created it
    (False: the same bytes were there already, so removing it would remove an earlier upload)."""

    name: str
    new: bool


@dataclass
class BuildState:
    """One index build, followed by every page that waits for it."""

    started: float
    total: int = 0
    done: int = 0
    finished: bool = False
    report: BuildReport | None = None
    error: str | None = None
    cancelled: bool = False  # asked to stop: it does at its next batch of passages
    thread: threading.Thread | None = field(default=None, repr=False)

    def describe(self) -> str:
        if self.cancelled:
            return "Cancelling the index build…"
        if self.total:
            return f"Building the index: embedding {self.done:,} of {self.total:,} passages…"
        return "Building the index: reading documents…"


def build_progress(state: BuildState) -> str:
    """The status line of a running build, with its progress bar."""
    return render_status(state.describe(), busy=True, done=state.done, total=state.total)


class Collection:
    """The folders behind the index, the uploads folder, and the one build that may run at a time."""

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, folders: Sequence[Path] | None = None
    ) -> None:
        self.settings = settings
        self.uploads = uploads_dir(settings)
        self.folders = list(folders) if folders is not None else default_folders(settings)
        self._embedder = embedder
        self._lock = threading.Lock()
        self._build: BuildState | None = None
        self._index_store: Store | None = None

    @property
    def store(self) -> Store:
        """The index's store (the configured database, or the index folder), for short questions
        such as whether it exists; a build opens its own, so these are not kept waiting behind it."""
        if self._index_store is None:
            self._index_store = open_store(self.settings.store, self.settings.resolved_index_dir)
        return self._index_store

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from vectorstore.models.embedding import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder(self.settings.embedding, self.settings.cache_dir)
        return self._embedder

    def engine(self) -> Engine:
        return get_engine(self.settings, self.embedder)

    @property
    def building(self) -> BuildState | None:
        state = self._build
        return state if state is not None and not state.finished else None

    def status(self) -> str:
        if (state := self.building) is not None:
            return build_progress(state)
        try:
            return render_status(self.engine().status())
        except CiteqaError as err:
            return render_status(str(err))

    def index_missing(self) -> bool:
        """No index yet: no manifest, and nothing in the folder but hidden files and uploads.

        A folder with other files and no manifest is not ours to fill; answering says what to do with it.
        In a database: no index tables yet (a database that cannot be reached is not "missing": answering
        says what is wrong with it).
        """
        if self.settings.store.url:
            try:
                return not self.store.exists()
            except CiteqaError:
                return False
        return store.not_yet_built(self.settings.resolved_index_dir)

    def _start_or_join(self, since: float) -> BuildState | None:
        """A build that started at or after `since`: the running one, or a new one; None means wait."""
        with self._lock:
            running = self.building
            if running is not None:
                return running if running.started >= since else None
            state = BuildState(started=time.monotonic())
            state.thread = threading.Thread(target=self._run, args=(state,), name="citeqa-index", daemon=True)
            self._build = state
            state.thread.start()
            return state

    def _run(self, state: BuildState) -> None:
        def stop_if_cancelled() -> None:
            if state.cancelled:
                raise BuildCancelled("Indexing was cancelled; the index is as it was before.")

        def progress(total: int):  # type: ignore[no-untyped-def]
            stop_if_cancelled()  # called once the documents are read, before anything is embedded
            state.total = total

            def tick(n: int) -> None:
                state.done += n
                stop_if_cancelled()  # after each batch: the build ends by raising, nothing is saved

            return tick, lambda: None

        builder: Store | None = None
        try:
            self.uploads.mkdir(parents=True, exist_ok=True)
            rebuild = self.index_missing()
            builder = open_store(self.settings.store, self.settings.resolved_index_dir)
            state.report = builder.index(
                [f for f in self.folders if f.exists()],
                embedder=self.embedder,
                chunking=self.settings.chunking,
                # Nothing to reuse; also skips reading a half-made folder (a database checks its own).
                rebuild=rebuild and not self.settings.store.url,
                keep_others=True,  # documents whose folders this server does not know stay indexed
                progress=progress,
            )
        except CiteqaError as err:
            state.error = str(err)
        except Exception as err:  # noqa: BLE001 - logged in full; the page gets one line
            log.exception("index build failed")
            state.error = f"Building the index failed ({type(err).__name__}); see the server log."
        finally:
            if builder is not None:
                builder.close()
            state.finished = True

    def update(self, since: float, poll: float = 0.25) -> Iterator[BuildState]:
        """Run (or join) a build that sees every file saved before `since`, yielding it while it runs."""
        while (state := self._start_or_join(since)) is None:
            if (running := self.building) is not None:
                yield running
            time.sleep(poll)
        while not state.finished:
            yield state
            time.sleep(poll)
        yield state

    def cancel(self) -> bool:
        """Ask the running build to stop (it does after its current batch); False when none runs."""
        state = self.building
        if state is None:
            return False
        state.cancelled = True
        return True

    def save_uploads(self, files: Sequence[tuple[str, bytes]]) -> tuple[list[Saved], list[str]]:
        """Write acceptable uploads, given as (name, bytes), into the uploads folder under safe names;
        returns (what was saved, refusal lines)."""
        saved: list[Saved] = []
        refused: list[str] = []
        self.uploads.mkdir(parents=True, exist_ok=True)
        for given, data in files:
            name = safe_upload_name(given)
            if name is None:
                refused.append(f"{given or '(no name)'}: not a usable file name.")
                continue
            reason = check_upload(name, data, self.settings.store.max_file_bytes)
            if reason:
                refused.append(reason)
                continue
            saved.append(self._store(data, name))
        return saved, refused

    def remove_upload(self, saved: Saved) -> None:
        """Take an upload this page created out of the uploads folder again (refused or cancelled)."""
        if saved.new:
            (self.uploads / saved.name).unlink(missing_ok=True)

    def _store(self, data: bytes, name: str) -> Saved:
        stem, suffix = name.rsplit(".", 1)
        candidate, n = name, 1
        # A name already used in any folder or in the index would give two documents one id (or replace
        # a document kept from elsewhere): number the new one.
        taken = self._indexed_names()
        while candidate in taken or any((f / candidate).exists() for f in [*self.folders, self.uploads]):
            existing = self.uploads / candidate
            if existing.is_file() and existing.read_bytes() == data:
                return Saved(candidate, new=False)
            n += 1
            candidate = f"{stem}-{n}.{suffix}"
        # Not mkstemp (0600): an upload is readable like the rest of the index, as the umask says.
        tmp = self.uploads / f".upload-{secrets.token_hex(8)}"
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.uploads / candidate)
        return Saved(candidate, new=True)

    def _indexed_names(self) -> set[str]:
        """Documents the index holds that are not this folder's uploads."""
        try:
            indexed = set(self.store.indexed_hashes())
        except CiteqaError:
            return set()
        return {name for name in indexed if not (self.uploads / name).is_file()}
