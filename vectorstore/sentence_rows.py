"""A large index's sentence rows as arrays: each row's document number, start and end (24 bytes), and
the lookup (doc_id, start) -> row by binary search, so that no process holds millions of Python objects
or a dict of them (`vectorstore.texts` re-exports both)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, overload

import numpy as np

if TYPE_CHECKING:
    from vectorstore.index_data import SentenceRef


class Sentences(Sequence["SentenceRef"]):
    """The index's sentence rows, from arrays: each row's document number, start and end."""

    def __init__(self, spans: np.ndarray, doc_ids: list[str]) -> None:
        """`spans`: int64 (n, 3) of (document number, start, end), documents' rows contiguous."""
        self.spans = spans
        self.doc_ids = doc_ids

    def __len__(self) -> int:
        return int(self.spans.shape[0])

    @overload
    def __getitem__(self, row: int) -> SentenceRef: ...
    @overload
    def __getitem__(self, row: slice) -> list[SentenceRef]: ...
    def __getitem__(self, row: int | slice) -> SentenceRef | list[SentenceRef]:
        from vectorstore.index_data import SentenceRef

        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        d, start, end = self.spans[row].tolist()
        return SentenceRef(self.doc_ids[d], start, end)


class SentenceRows(Mapping[tuple[str, int], int]):
    """(doc_id, start) → sentence row, by binary search in the document's rows (no dict of millions)."""

    def __init__(self, spans: np.ndarray, doc_ids: list[str]) -> None:
        self._spans = spans
        self._number = {doc_id: i for i, doc_id in enumerate(doc_ids)}
        docs = np.asarray(spans[:, 0])
        #: Python ints and a 1-D view: a lookup per sentence of a window, so no numpy scalar on the way.
        self._first: list[int] = np.searchsorted(docs, np.arange(len(doc_ids) + 1)).tolist()
        self._starts = spans[:, 1]
        self._doc_ids = doc_ids
        if len(docs) and np.any(np.diff(docs) < 0):
            raise ValueError("sentence rows are not grouped by document")

    def get_row(self, doc_id: str, start: int) -> int | None:
        d = self._number.get(doc_id)
        if d is None:
            return None
        lo, hi = self._first[d], self._first[d + 1]
        starts = self._starts[lo:hi]
        i = int(starts.searchsorted(start))
        if i < hi - lo and starts[i] == start:
            return lo + i
        return None

    def __getitem__(self, key: tuple[str, int]) -> int:
        row = self.get_row(*key)
        if row is None:
            raise KeyError(key)
        return row

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and len(key) == 2 and self.get_row(*key) is not None

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for d, start, _ in self._spans:
            yield self._doc_ids[int(d)], int(start)

    def __len__(self) -> int:
        return int(self._spans.shape[0])
