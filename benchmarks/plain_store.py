"""Save and load the plain pipeline's LangChain FAISS store without pickle.

LangChain's `save_local` pickles the docstore and `load_local` needs `allow_dangerous_deserialization`;
the benchmark writes the same content as `faiss.write_index` plus JSON, which costs the same I/O.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import faiss


def save_plain(store: Any, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    faiss.write_index(store.index, str(out / "index.faiss"))
    docs = {
        doc_id: {"page_content": doc.page_content, "metadata": doc.metadata}
        for doc_id, doc in store.docstore._dict.items()
    }
    payload = {"docs": docs, "ids": {str(k): v for k, v in store.index_to_docstore_id.items()}}
    (out / "docstore.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def load_plain(out: Path, embeddings: Any) -> Any:
    from langchain_community.docstore.in_memory import InMemoryDocstore
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document

    payload = json.loads((out / "docstore.json").read_text(encoding="utf-8"))
    docstore = InMemoryDocstore({k: Document(**v) for k, v in payload["docs"].items()})
    ids = {int(k): v for k, v in payload["ids"].items()}
    return FAISS(embeddings, faiss.read_index(str(out / "index.faiss")), docstore, ids)
