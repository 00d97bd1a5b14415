"""The one settings object, built once by the CLI, the web app and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from vectorstore.settings import (
    ChunkingSettings,
    EmbeddingSettings,
    StoreSettings,
    default_cache_dir,
)


class RetrievalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(5, ge=1, le=50, description="Passages retrieved and shown per question.")
    approximate_hits: int = Field(
        64,
        ge=1,
        description="Above store.approximate_threshold sentences: the nearest sentences the question and "
        "its focus each start from; their chunks' sentences are then scored exactly "
        "(see qa.retrieve.window).",
    )


class ComposeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_sentences: int = Field(4, ge=1, description="Evidence sentences in an answer at most.")
    max_words: int = Field(
        150, ge=10, description="Words an answer may quote at most: a bound, not what decides its length."
    )
    margin: float = Field(0.08, ge=0.0, description="Further sentences must score within this of the best.")
    other_document_margin: float = Field(
        0.03, ge=0.0, description="A sentence from another document must score within this of the best."
    )
    top_passages: int = Field(4, ge=1, description="Passages whose sentences are considered as evidence.")
    top_sentences: int = Field(
        8, ge=0, description="The chunks of this many best sentences anywhere are considered too."
    )
    context_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Weight of the question a paragraph answers (interviews, FAQs)."
    )
    context_decay: float = Field(
        0.02, ge=0.0, description="Less context credit per sentence into the answer."
    )
    focus_weight: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Weight of the question's focus (the question without the names that only say where "
        "to look, see qa.retrieve.focus) in a sentence's evidence score.",
    )
    followup_focus_weight: float = Field(
        0.7,
        ge=0.0,
        le=1.0,
        description="The focus weight when a follow-up is retrieved together with the conversation (its "
        "own words are the focus, see qa.conversation): the conversation sets the topic, the follow-up "
        "says what is asked.",
    )
    neighbour_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Weight of the sentence before in a sentence's score, when that helps it (an answer "
        "continuing the sentence that names what was asked about; see qa.retrieve.evidence).",
    )
    language_centring: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Share of each document language's mean excess similarity to the question taken off "
        "its sentences (a question favours text in its own language; see qa.retrieve.evidence).",
    )
    answer_types: bool = Field(
        True,
        description="A 'when' question is only answered by a sentence with a date, a 'how many' question "
        "by one with a number (see qa.compose.answer_type).",
    )
    unknown_name_penalty: float = Field(
        0.03,
        ge=0.0,
        description="Taken off the question's relevance when it names something (a capitalised word) "
        "the collection never mentions (see qa.retrieve.names).",
    )
    unknown_number_penalty: float = Field(
        0.1,
        ge=0.0,
        description="Taken off the question's relevance when it names a number of two digits or more "
        "that the collection never mentions (see qa.retrieve.names).",
    )
    refuse_quantile: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="Refuse unless the best sentence matches better than this share of off-topic probe "
        "questions' best sentences do on the same collection (see qa.compose.calibration)...",
    )
    refuse_margin: float = Field(0.01, description="...plus this much.")


#: The local GGUF assembled by `citeqa models pull --llm` (see ../shared/MODELS.md).
DEFAULT_LLM = "qwen2.5-coder-1.5b-instruct-q4_k_m"

Mode = Literal["extractive", "generative"]


class GenerationSettings(BaseModel):
    """The chat model of the generative mode ("extract, then write"; see qa.generate.rewrite)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["llamacpp", "openai", "ollama"] = Field(
        "llamacpp",
        description="llamacpp: a GGUF in-process; openai: any OpenAI-compatible endpoint; ollama: an "
        "Ollama server.",
    )
    model: str = Field(
        DEFAULT_LLM,
        description="llamacpp: the packaged model or a .gguf path; openai/ollama: the served model name.",
    )
    base_url: str | None = Field(
        None, description="Endpoint of the openai/ollama backends, e.g. http://127.0.0.1:8000/v1."
    )
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="Environment variable holding the openai backend's API key."
    )
    fetch_missing: bool = Field(
        True,
        description="llamacpp: fetch the packaged chat model (and build llama-cpp-python) on the first "
        "generative use when missing: the CLI in the foreground, the server in the background while "
        "answering extractively. False: say to run `citeqa models pull --llm`.",
    )
    timeout_s: float = Field(60.0, gt=0, description="Give up on the chat model after this long.")
    max_tokens: int = Field(200, ge=16, description="Tokens the chat model may write per answer.")
    context_tokens: int = Field(4096, ge=512, description="llamacpp: context window.")
    threads: int | None = Field(None, ge=1, description="llamacpp: CPU threads (default: all cores).")
    neighbours: int = Field(1, ge=0, description="Sentences shown before and after each evidence sentence.")
    support_threshold: float = Field(
        0.5,
        description="A generated sentence must be at least this similar (embedding cosine) to the "
        "evidence it cites; calibrated on the gold set.",
    )


class Settings(BaseSettings):
    """All configuration; environment variables use the prefix CITEQA_ and `__` for nesting."""

    model_config = SettingsConfigDict(
        env_prefix="CITEQA_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    cache_dir: Path = Field(default_factory=default_cache_dir, description="Models and default index.")
    index_dir: Path | None = Field(None, description="Index folder; default: <cache_dir>/index.")
    collections: tuple[Path, ...] = Field(
        (Path("seeds"),), description="Files and folders indexed when none are named (CLI and web app)."
    )
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    # NoDecode: CITEQA_STORE may be a bare URL (the store), not only the section as JSON.
    store: Annotated[StoreSettings, NoDecode] = StoreSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    compose: ComposeSettings = ComposeSettings()
    mode: Mode = Field("extractive", description="How answers are written: extractive or generative.")
    generation: GenerationSettings = GenerationSettings()
    auth: SecretStr | None = Field(
        None,
        description="USER:PASS the web app and its APIs require (CITEQA_AUTH; also `serve --auth-file`). "
        "API clients send it as HTTP Basic or as the Bearer key.",
    )

    @property
    def resolved_index_dir(self) -> Path:
        return self.index_dir if self.index_dir is not None else self.cache_dir / "index"

    @property
    def uploads_dir(self) -> Path:
        """Where files uploaded in the web app are kept: inside the index they belong to, which
        indexes them with its other documents whoever updates it."""
        return self.resolved_index_dir / "uploads"
