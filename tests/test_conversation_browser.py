"""The web chat remembers its conversation, in headless Debian Chromium with the real model and seeds:
a follow-up is answered from the passage its previous question led to, and "New conversation"
forgets it."""

from __future__ import annotations

import pytest

from tests.test_web_browser import _ask, _open, app_url, browser  # noqa: F401 - the fixtures

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PESCO = "001_5b70a646f9b877f3.txt"
FIRST = "Which Russian diplomat said Russia is open to cooperation with PESCO?"
FOLLOW_UP = "Which newspaper was he talking to?"


def test_a_follow_up_in_the_web_chat_cites_the_right_passage(app_url: str, browser) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    context, page, errors = _open(browser, app_url)
    _ask(page, FIRST)
    assert "Tsjizjov" in page.locator("#citeqa-chat .message.bot").last.inner_text()
    _ask(page, FOLLOW_UP)
    answer = page.locator("#citeqa-chat .message.bot").last
    assert answer.locator(".citeqa-answer").count() == 1 and "Die Welt" in answer.inner_text()
    panel = page.inner_text("#citeqa-sources-panel")
    assert PESCO in panel and "Die Welt" in panel

    # A new conversation forgets the first question: asked first, the follow-up has nothing to lean on.
    page.click("#citeqa-new")
    page.wait_for_function("document.querySelectorAll('#citeqa-chat .message').length === 0", timeout=10_000)
    _ask(page, FOLLOW_UP)
    assert "Die Welt" not in page.locator("#citeqa-chat .message.bot").last.inner_text()
    assert errors == []
    context.close()
