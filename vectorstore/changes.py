"""What an update changes: the documents under its paths, sorted against what the index holds.

Shared by every store's indexer (`vectorstore.indexer` for the folder, `stores.pg_index` for
PostgreSQL), so both follow the same rules: an update never loses documents by accident. A path
that is missing, or that holds no readable document while the update would drop documents, refuses
the whole update before anything is written (unless the caller passes `prune`); with `keep_others`
the documents no path holds stay as indexed; removals are announced before they happen.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vectorstore.errors import UpdateRefused
from vectorstore.sources import exists, load_documents, printable, sources_of
from vectorstore.types import Document


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line each: "<file>: <why>"
    kept: list[str] = field(default_factory=list)  # not under the paths, kept as indexed (keep_others)
    warnings: list[str] = field(default_factory=list)  # indexed, with a caveat: "<file>: <what>"
    by_others: list[str] = field(default_factory=list)  # added or changed, embedded by another indexer
    documents: int = 0
    chunks: int = 0
    embedded_texts: int = 0
    seconds: float = 0.0

    @property
    def nothing_changed(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def summary(self) -> str:
        kept = f"{len(self.kept)} kept, " if self.kept else ""
        others = f" ({len(self.by_others)} of them by another indexer)" if self.by_others else ""
        return (
            f"{len(self.added)} added, {len(self.changed)} changed{others}, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {kept}{len(self.skipped)} skipped; "
            f"{self.documents} documents, {self.chunks} chunks in {self.seconds:.1f} s"
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _names(doc_ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(doc_ids[:limit])
    return shown + (f" and {len(doc_ids) - limit:,} more" if len(doc_ids) > limit else "")


def present_paths(paths: Sequence[Path], *, prune: bool, untouched: str) -> list[Path]:
    """`paths` that exist; UpdateRefused for a missing one unless `prune` (`untouched` says what
    was left as it was)."""
    missing = [p for p in paths if not exists(p)]
    if missing and not prune:
        raise UpdateRefused(
            f"{printable(str(missing[0]))}: no such file or folder; {untouched}. "
            "Check the path, or add --prune to update without it."
        )
    return [p for p in paths if p not in missing]


def read_documents(
    paths: Sequence[Path], index_dir: Path | None, max_file_bytes: int, report: BuildReport
) -> tuple[dict[str, Document], list[Path]]:
    """The documents under `paths` and under `index_dir`'s uploads folder (when there is one) by id,
    in file order, and the paths that held none. What cannot be read, or repeats another document's
    text or name, goes to `report.skipped` with one line saying why."""
    sources = sources_of(paths, index_dir) if index_dir is not None else list(dict.fromkeys(paths))
    documents, per_source, report.skipped = load_documents(sources, max_file_bytes)
    return documents, [p for p in sources if p in paths and not per_source[p]]


def compare(
    documents: dict[str, Document],
    indexed: Mapping[str, str],
    report: BuildReport,
    stale: Container[str] = (),
) -> None:
    """Sort `documents` into added, changed and unchanged against the indexed content hashes (a
    document in `stale` counts as changed: it must be chunked again), with a warning for each one
    to embed whose invalid bytes were replaced."""
    for doc_id, doc in documents.items():
        if doc_id not in indexed:
            report.added.append(doc_id)
        elif indexed[doc_id] != doc.content_hash or doc_id in stale:
            report.changed.append(doc_id)
        else:
            report.unchanged.append(doc_id)
            continue
        report.warnings.extend(doc.notes)
        if doc.replaced_bytes:
            report.warnings.append(
                f"{doc_id}: {_count(doc.replaced_bytes, 'invalid byte sequence')} replaced by U+FFFD "
                "(read as UTF-8)"
            )


def settle_removals(
    documents: Mapping[str, Document],
    previous: Collection[str],
    keepable: Container[str],
    report: BuildReport,
    *,
    keep_others: bool,
    prune: bool,
    empty: Sequence[Path],
    untouched: str,
    announce: Callable[[str], None] | None,
) -> None:
    """Decide what happens to the `previous` documents that `documents` no longer hold.

    With `keep_others` those in `keepable` (whose vectors can be kept) stay as indexed
    (`report.kept`); the rest are removed, unless a path in `empty` held no documents and `prune` is
    off: then the update is refused (UpdateRefused) before anything is written. Removals are
    announced before they happen.
    """
    gone = sorted(set(previous) - set(documents))
    if keep_others:
        report.kept = [d for d in gone if d in keepable]
        report.removed = [d for d in gone if d not in keepable]  # only on a rebuild
    else:
        report.removed = gone
    if report.removed and not prune and empty:
        raise UpdateRefused(
            f"{printable(str(empty[0]))}: no readable documents there, and the update would remove "
            f"{_count(len(report.removed), 'document')} ({_names(report.removed)}); "
            f"{untouched}. Check the path, or add --prune to remove them."
        )
    report.documents = len(documents) + len(report.kept)
    if report.removed and announce:
        removed = _count(len(report.removed), "document")
        announce(f"removing {removed} no longer found: {', '.join(report.removed)}")
