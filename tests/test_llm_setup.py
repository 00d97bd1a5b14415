"""Fetching the local chat model only when wanted: pip and the pull are replaced by recorders."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import qa.generate.llm_setup as llm_setup
from qa import cli
from qa.settings import GenerationSettings, Settings
from vectorstore.errors import GenerationUnavailable


class FakePip:
    """Records pip commands; `pip wheel` leaves a wheel file where pip would."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.envs: list[dict[str, str] | None] = []

    def __call__(self, command: list[str], env: dict[str, str] | None = None, **_: Any) -> Any:
        self.commands.append(command)
        self.envs.append(env)
        if command[3] == "wheel":
            out = Path(command[command.index("-w") + 1])
            (out / f"llama_cpp_python-{llm_setup.LLAMA_VERSION}-cp311-cp311-linux_x86_64.whl").write_bytes(
                b"w"
            )
        return subprocess.CompletedProcess(command, 0, "", "")


def test_llama_cpp_is_built_once_with_portable_flags_then_installed_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pip = FakePip()
    monkeypatch.setattr(llm_setup.subprocess, "run", pip)
    llm_setup.install_llama_cpp(tmp_path, progress=False)
    llm_setup.install_llama_cpp(tmp_path, progress=False)
    verbs = [c[3] for c in pip.commands]
    assert verbs == ["wheel", "install", "install"]
    assert "--no-binary" in pip.commands[0] and "--no-cache-dir" in pip.commands[0]
    assert pip.envs[0] is not None and pip.envs[0]["CMAKE_ARGS"] == llm_setup.LLAMA_CMAKE_ARGS
    assert "-DGGML_NATIVE=OFF" in llm_setup.LLAMA_CMAKE_ARGS
    install = pip.commands[1]
    assert install[-1].endswith("linux_x86_64.whl") and "--no-deps" not in install  # diskcache comes too
    assert install[install.index("-c") + 1].endswith("constraints.txt")
    # Other flags recorded next to the wheel: built again.
    (tmp_path / "wheels" / f"llama_cpp_python-{llm_setup.LLAMA_VERSION}.cmake-args").write_text("-DOLD\n")
    llm_setup.install_llama_cpp(tmp_path, progress=False)
    assert [c[3] for c in pip.commands][3:] == ["wheel", "install"]


def test_a_failed_build_is_one_line_saying_how_to_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(command: list[str], **_: Any) -> Any:
        return subprocess.CompletedProcess(command, 1, "", "lots of output\nerror: cmake failed\n")

    monkeypatch.setattr(llm_setup.subprocess, "run", failing)
    with pytest.raises(Exception, match=r"failed \(error: cmake failed\); run `citeqa models pull --llm`"):
        llm_setup.install_llama_cpp(tmp_path, progress=False)


def test_a_server_fetches_a_missing_model_in_the_background_and_answers_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[Path] = []

    def slow_fetch(cache_dir: Path, progress: bool = True) -> Path:
        time.sleep(0.2)
        fetched.append(cache_dir)
        return cache_dir / "model.gguf"

    monkeypatch.setattr(llm_setup, "ensure_local_llm", slow_fetch)
    monkeypatch.setattr(llm_setup, "_allowed", type(llm_setup._allowed)())
    monkeypatch.setattr(llm_setup, "_background", {})
    # Not allowed (the CLI, a library user): say what to run, fetch nothing.
    assert "run `citeqa models pull --llm`" in str(llm_setup.fetch_in_background(tmp_path, "Missing"))
    llm_setup.allow_background_fetch()
    first = llm_setup.fetch_in_background(tmp_path, "Missing")
    second = llm_setup.fetch_in_background(tmp_path, "Missing")
    assert isinstance(first, GenerationUnavailable) and "being fetched" in str(first)
    assert "answers are extractive until it is ready" in str(second)
    llm_setup._background[tmp_path].join(5)
    assert fetched == [tmp_path]  # one fetch for both requests


def test_the_cli_fetches_the_model_on_first_generative_use_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(llm_setup, "local_llm_ready", lambda cache: False)
    monkeypatch.setattr(llm_setup, "ensure_local_llm", lambda cache, progress: calls.append("fetch"))
    fetch = GenerationSettings(fetch_missing=True)
    cli._prepare_generation(Settings(cache_dir=tmp_path, mode="generative", generation=fetch))
    cli._prepare_generation(Settings(cache_dir=tmp_path, generation=fetch))  # extractive: nothing
    other = GenerationSettings(backend="openai", base_url="http://127.0.0.1:9/v1", fetch_missing=True)
    cli._prepare_generation(Settings(cache_dir=tmp_path, mode="generative", generation=other))
    cli._prepare_generation(Settings(cache_dir=tmp_path, mode="generative"))  # the tests' setting: off
    assert calls == ["fetch"]


def test_the_notice_is_one_line_before_anything_is_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    monkeypatch.setattr(llm_setup, "llama_cpp_installed", lambda: True)
    monkeypatch.setattr(
        "qa.generate.llm.pull_llm", lambda cache, progress: said.append("pulled") or cache / "m.gguf"
    )
    assert llm_setup.ensure_local_llm(tmp_path, progress=False, notice=said.append) == tmp_path / "m.gguf"
    assert said == [llm_setup.LLM_NOTICE, "pulled"] and "\n" not in llm_setup.LLM_NOTICE
