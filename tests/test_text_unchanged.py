"""The formats citeqa read before documents kept their pages read exactly as before (issue 25): the
development collections' gold figures depend on every character and every chunk boundary.

The digests were computed by commit 0a43961 (before converters and layouts) with this file's `_digest`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from vectorstore.ingest.chunking import chunk_document
from vectorstore.ingest.loaders import load_document
from vectorstore.settings import ChunkingSettings

ROOT = Path(__file__).resolve().parent.parent
BEFORE = {
    "seeds/000_d6b9d14a00a44e16.txt": "8055bc8def0c3e9f",
    "seeds/001_5b70a646f9b877f3.txt": "7374cb5059063e02",
    "seeds/002_24e8bf16e2cc36cb.txt": "2abce82d896c1194",
    "seeds/003_70503c2fd6e06528.txt": "333b7831adf60438",
    "seeds/004_822effe7b59d270b.txt": "5c400e3224a335a0",
    "gold/xquad-dev/de/docs/xq32.txt": "358620727f9edbb5",
    "gold/xquad-dev/de/docs/xq33.txt": "e4d15134071ff6f8",
    "gold/xquad-dev/de/docs/xq34.txt": "b8c154d5428a5825",
    "gold/xquad-dev/de/docs/xq35.txt": "b63bf982fe462aa0",
    "gold/xquad-dev/de/docs/xq36.txt": "75efe7f260465c96",
    "gold/xquad-dev/de/docs/xq37.txt": "a0b5a8ff259edffe",
    "gold/xquad-dev/de/docs/xq38.txt": "ae7b01010de6a077",
    "gold/xquad-dev/de/docs/xq39.txt": "fd69bb4bd061d533",
    "gold/xquad-dev/de/docs/xq40.txt": "68602104e77aeca7",
    "gold/xquad-dev/de/docs/xq41.txt": "6ce04a0a12e2bc1e",
    "gold/xquad-dev/de/docs/xq42.txt": "4dba984327bea6d3",
    "gold/xquad-dev/de/docs/xq43.txt": "5f06114933fe2ff1",
    "gold/xquad-dev/en/docs/xq32.txt": "230bcee2c8266fd9",
    "gold/xquad-dev/en/docs/xq33.txt": "6602e9f6ff1b950e",
    "gold/xquad-dev/en/docs/xq34.txt": "69f6ed1b9a1b0198",
    "gold/xquad-dev/en/docs/xq35.txt": "b534a5f7fbafd031",
    "gold/xquad-dev/en/docs/xq36.txt": "0ab09110783fad65",
    "gold/xquad-dev/en/docs/xq37.txt": "a3bd613a6998393c",
    "gold/xquad-dev/en/docs/xq38.txt": "7dffe02aee34e7dc",
    "gold/xquad-dev/en/docs/xq39.txt": "784dcc4c3bb2a3e5",
    "gold/xquad-dev/en/docs/xq40.txt": "933fe4208851a794",
    "gold/xquad-dev/en/docs/xq41.txt": "d142d6be372c39ed",
    "gold/xquad-dev/en/docs/xq42.txt": "ce48407533a73e04",
    "gold/xquad-dev/en/docs/xq43.txt": "35471f68dfaa412d",
}


def _digest(path: Path, root: Path) -> str:
    doc = load_document(path, root, 10**8)
    chunks = [c.text for c in chunk_document(doc.doc_id, doc.text, ChunkingSettings())]
    return hashlib.sha256(json.dumps([doc.text, chunks], ensure_ascii=False).encode()).hexdigest()[:16]


def test_the_development_collections_are_cleaned_and_chunked_as_before() -> None:
    now = {name: _digest(ROOT / name, (ROOT / name).parent) for name in BEFORE}
    assert now == BEFORE
