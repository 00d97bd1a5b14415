"""The files of an index folder's generations: their names, and removing those no manifest points at.

Every build writes its files as `<part>-<generation><suffix>` (see `vectorstore.store`) and only then
points `manifest.json` at them. A build that was killed leaves its files behind; the next build, which
holds the folder's lock (`vectorstore.build_lock`, so no other build is writing), removes them before
it starts, and every build removes the previous generation's once its own is live.
"""

from __future__ import annotations

from pathlib import Path

PARTS = ("documents", "chunks", "sentences", "chunk_vectors", "sentence_vectors", "vectors")
#: Written only when the index has one (see `IndexData.sentence_index`).
OPTIONAL = ("sentence_ann",)
#: Above the approximate threshold: the texts read per question (`vectorstore.texts`), instead of the
#: JSONL tables, beside the same vectors and indexes.
LARGE_PARTS = ("texts", "sentence_spans", "features", "chunk_vectors", "sentence_vectors", "vectors")
_SUFFIX = {
    "texts": ".sqlite",
    "features": ".npz",
    "documents": ".jsonl",
    "chunks": ".jsonl",
    "sentences": ".jsonl",
    "vectors": ".faiss",
    "sentence_ann": ".faiss",
}
_TEMPORARY = ".manifest-"  # a manifest being written, renamed to manifest.json when complete


def file_name(part: str, generation: str) -> str:
    return f"{part}-{generation}{_SUFFIX.get(part, '.npy')}"


def is_generation_file(name: str) -> bool:
    """Whether `name` is a file some build wrote (of the live generation or another)."""
    return any(name.startswith(f"{part}-") for part in {*PARTS, *OPTIONAL, *LARGE_PARTS})


def prune(index_dir: Path, keep_generation: str | None) -> None:
    """Remove the files of every generation but `keep_generation` (all of them for None) and stray
    temporary manifests. Only call it holding the folder's build lock."""
    for path in index_dir.iterdir():
        stem = path.name.rsplit(".", 1)[0]
        live = keep_generation is not None and stem.endswith(f"-{keep_generation}")
        if (is_generation_file(path.name) and not live) or path.name.startswith(_TEMPORARY):
            path.unlink(missing_ok=True)
