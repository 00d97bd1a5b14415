"""Putting an update's vectors and sentence rows together without extra copies.

An update keeps the vectors of unchanged documents and adds the new ones; at 400k sentences the
vectors are 1.2 GB, so each selection, concatenation or cast is that much more at the build's peak.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vectorstore import texts
from vectorstore.index_data import SentenceRef

#: Vectors to put together: an array and the rows of it to take (None: all of them).
Rows = tuple[np.ndarray, list[int] | None]


def gather(parts: Sequence[Rows], dim: int) -> np.ndarray:
    """The rows of `parts` one after another as one float32 matrix, copied once: a 400k-sentence
    index's vectors are 1.2 GB, and each extra copy (a selection, then a concatenation, then a cast)
    is that much more memory at the build's peak. A single whole float32 array is not copied."""
    if len(parts) == 1 and parts[0][1] is None:
        return np.asarray(parts[0][0], np.float32)
    total = sum(len(array) if rows is None else len(rows) for array, rows in parts)
    out = np.empty((total, dim), np.float32)
    at = 0
    for array, rows in parts:
        n = len(array) if rows is None else len(rows)
        if rows is None:
            out[at : at + n] = array
        elif n:  # mode="clip": the rows are valid; "raise" would buffer a second copy of `out`
            np.take(array, rows, axis=0, out=out[at : at + n], mode="clip")
        at += n
    return out


def reused_sentences(
    sentences: Sequence[SentenceRef], reuse: set[str]
) -> tuple[list[int], list[SentenceRef]]:
    """The rows of `sentences` whose document is in `reuse`, and those sentences; a text store's rows
    are selected on their array, not one Python object per row first."""
    if isinstance(sentences, texts.Sentences):
        keep = np.array([d in reuse for d in sentences.doc_ids], bool)
        spans = np.asarray(sentences.spans)
        rows = np.flatnonzero(keep[spans[:, 0]]) if len(spans) else np.zeros(0, np.int64)
        ids = sentences.doc_ids
        refs = [SentenceRef(ids[d], start, end) for d, start, end in spans[rows].tolist()]
        return rows.tolist(), refs
    rows_list = [i for i, s in enumerate(sentences) if s.doc_id in reuse]
    return rows_list, [sentences[i] for i in rows_list]
