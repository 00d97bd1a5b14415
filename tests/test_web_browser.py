"""The web chat in headless Debian Chromium against the real model and the seeds index."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REAL_CACHE, ROOT

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts"
KUJAT_TITLE = "Rusland wil onderhandelen!"
ANSWER_TIMEOUT_MS = 240_000  # the first question loads the model


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_app(index_dir: Path, log: Path) -> Iterator[str]:
    """`python app.py` on a free port of 127.0.0.1; yields its URL and stops it afterwards."""
    port = _free_port()
    env = {**os.environ, "CITEQA_CACHE_DIR": str(REAL_CACHE), "GRADIO_ANALYTICS_ENABLED": "False"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--index-dir", str(index_dir), "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer on {url}:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def app_url(real_seeds_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from start_app(real_seeds_index, tmp_path_factory.mktemp("web-browser") / "app.log")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Debian Chromium is missing: run scripts/setup-browser.sh (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _ask(page, question: str) -> None:  # type: ignore[no-untyped-def]
    """Type a question, press Enter and wait until its answer has finished streaming."""
    bubbles = page.locator("#citeqa-chat .message.bot")
    before = bubbles.count()
    page.fill("#citeqa-question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        """(n) => { const bot = document.querySelectorAll('#citeqa-chat .message.bot');
                    return bot.length > n && !document.querySelector('#citeqa-chat .citeqa-pending')
                           && !document.querySelector('#citeqa-chat .pending'); }""",
        arg=before,
        timeout=ANSWER_TIMEOUT_MS,
    )
    page.wait_for_function(
        "(q) => document.querySelector('#citeqa-sources-panel .citeqa-question')?.innerText === q",
        arg=question,
        timeout=ANSWER_TIMEOUT_MS,
    )


def _open(browser, url: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 940})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(url)
    page.wait_for_function(
        "document.querySelector('#citeqa-status')?.innerText.includes('documents')", timeout=60_000
    )
    return context, page, errors


def test_istanbul_question_in_a_real_browser(app_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    context, page, errors = _open(browser, app_url)
    assert "5 documents" in page.inner_text("#citeqa-status")
    _ask(page, "What was offered at Istanbul?")

    answer = page.locator("#citeqa-chat .message.bot").last
    assert answer.locator(".citeqa-answer").count() == 1
    assert "[1]" in answer.inner_text()
    panel = page.inner_text("#citeqa-sources-panel")
    assert KUJAT_TITLE in panel and "000_d6b9d14a00a44e16.txt" in panel and "EMMA" in panel
    assert page.locator("#citeqa-sources-panel mark").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-istanbul.png"), full_page=True)

    # A question the documents do not answer is refused, visibly differently, in the same conversation.
    _ask(page, "What is the capital of Australia?")
    refusal = page.locator("#citeqa-chat .message.bot").last
    assert refusal.locator(".citeqa-refusal").count() == 1 and refusal.locator(".citeqa-answer").count() == 0
    assert "Closest matches" in refusal.inner_text()
    assert page.locator("#citeqa-chat .message.user").count() == 2
    page.screenshot(path=str(ARTIFACTS / "web-refusal.png"), full_page=True)

    # Clicking the first answer brings its sources back.
    page.locator("#citeqa-chat .message.bot").first.click()
    page.wait_for_function(
        "document.querySelector('#citeqa-sources-panel .citeqa-question')?.innerText "
        "=== 'What was offered at Istanbul?'",
        timeout=10_000,
    )
    assert errors == []
    context.close()


def test_each_session_keeps_its_own_history(app_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    first_ctx, first, _ = _open(browser, app_url)
    second_ctx, second, _ = _open(browser, app_url)
    _ask(first, "Wat bood Oekraïne aan in Istanbul?")
    _ask(second, "Wer führte das Interview mit Harald Kujat?")
    assert "Harald Kujat" not in first.inner_text("#citeqa-chat .message.user")
    assert second.locator("#citeqa-chat .message.user").count() == 1
    assert "Kujat" in second.inner_text("#citeqa-chat .message.user")
    first_ctx.close()
    second_ctx.close()
