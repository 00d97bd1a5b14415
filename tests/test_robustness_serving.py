"""An upload while serving (issue 13, cases 2 and 3), with the real model, the web app and Chromium.

The seeds index is served by `app.py` started from a folder without `seeds/` (so the server knows none
of the folders the index was built from), and a long text is uploaded through the page. While its
build runs, `/ask` must still answer from the index as it was, saying that an update is running
(case 3); once it is done, the index must hold the seeds and the upload (case 2).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REAL_CACHE, ROOT
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS, _free_port
from vectorstore import store

pytestmark = [pytest.mark.integration, pytest.mark.browser]

KUJAT = "000_d6b9d14a00a44e16.txt"
SEED_DOCS = {
    KUJAT,
    "001_5b70a646f9b877f3.txt",
    "002_24e8bf16e2cc36cb.txt",
    "003_70503c2fd6e06528.txt",
    "004_822effe7b59d270b.txt",
}
UPLOAD = "ship-log.txt"
SUBMARINE = "The blue submarine Nautilus-7 visited the harbour of Bergen on 14 October."
BUILD_TIMEOUT_S = 900


def _ship_log() -> str:
    """A log long enough (150 sentences) that its build runs for a while on 2 cores."""
    lines = [
        f"Entry {n}: the research vessel Aurora measured {10 + n % 9}.{n % 10} degrees at station "
        f"{n}, with wind from the {('north', 'east', 'south', 'west')[n % 4]} at {n % 30} knots."
        for n in range(1, 151)
    ]
    lines.insert(80, SUBMARINE)
    paragraphs = [" ".join(lines[i : i + 5]) for i in range(0, len(lines), 5)]
    return "Ship log of the Aurora\n\n" + "\n\n".join(paragraphs)


def _ask(url: str, question: str) -> dict[str, Any]:
    from gradio_client import Client

    result: dict[str, Any] = Client(url, verbose=False).predict(question, api_name="/ask")
    return result


@pytest.fixture(scope="module")
def upload_while_serving(
    real_seeds_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Serve a copy of the seeds index from elsewhere, upload the ship log, and record what happened."""
    if not CHROMIUM.exists():
        pytest.fail("Debian Chromium is missing: run scripts/setup-browser.sh (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    root = tmp_path_factory.mktemp("serving")
    index_dir = root / "index"
    shutil.copytree(real_seeds_index, index_dir, ignore=shutil.ignore_patterns(".lock"))
    cache = root / "cache"  # the model from the real cache, anything else written here
    cache.mkdir()
    (cache / "models").symlink_to(REAL_CACHE / "models")
    elsewhere = root / "elsewhere"  # no seeds/ here: the configured collection does not exist
    elsewhere.mkdir()
    upload = root / UPLOAD
    upload.write_text(_ship_log(), encoding="utf-8")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = root / "app.log"
    env = {**os.environ, "CITEQA_CACHE_DIR": str(cache), "GRADIO_ANALYTICS_ENABLED": "False"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--index-dir", str(index_dir), "--port", str(port)],
            cwd=elsewhere,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    record: dict[str, Any] = {"index_dir": index_dir, "url": url}
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
        record["before"] = _ask(url, "What was offered at Istanbul?")  # loads the model
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function(
                "document.querySelector('#citeqa-status')?.innerText.includes('5 documents')",
                timeout=120_000,
            )
            page.get_by_text("Add documents").click()
            page.locator("input[type=file]").set_input_files(str(upload))
            page.wait_for_function(
                "document.querySelector('#citeqa-status')?.innerText"
                ".includes('Building the index: embedding')",
                timeout=120_000,
            )
            record["status_during"] = page.inner_text("#citeqa-status")
            asked = time.monotonic()
            record["during"] = _ask(url, "What was offered at Istanbul?")
            record["during_seconds"] = time.monotonic() - asked
            record["still_building"] = "Building the index" in page.inner_text("#citeqa-status")
            page.wait_for_function(
                "document.body.innerText.includes('it is now searchable') "
                "|| document.body.innerText.includes('Indexing failed')",
                timeout=BUILD_TIMEOUT_S * 1000,
            )
            record["upload_report"] = page.inner_text("body")
            record["build_seconds"] = time.monotonic() - asked
            browser.close()
        record["after"] = _ask(url, "What was offered at Istanbul?")
        record["submarine"] = _ask(url, "Which harbour did the blue submarine visit?")
        record["manifest"] = json.loads((index_dir / store.MANIFEST).read_text())
        yield record
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cites(result: dict[str, Any], source: str) -> bool:
    assert "error" not in result, result
    return not result["refused"] and source in {c["source"] for c in result["citations"]}


def test_case2_an_upload_adds_to_the_documents_the_index_holds(upload_while_serving: dict[str, Any]) -> None:
    record = upload_while_serving
    assert _cites(record["before"], KUJAT)
    assert f"Added {UPLOAD}: it is now searchable." in record["upload_report"]
    assert set(record["manifest"]["documents"]) == SEED_DOCS | {UPLOAD}
    assert _cites(record["after"], KUJAT)  # the Istanbul question is still answered
    assert _cites(record["submarine"], UPLOAD)
    assert SUBMARINE in {c["quote"] for c in record["submarine"]["citations"]}
    # The upload is kept with the index it belongs to.
    assert (record["index_dir"] / "uploads" / UPLOAD).is_file()


def test_case3_questions_are_answered_from_the_previous_index_during_the_build(
    upload_while_serving: dict[str, Any],
) -> None:
    record = upload_while_serving
    assert "Building the index: embedding" in record["status_during"]
    during = record["during"]
    assert _cites(during, KUJAT), during
    assert during["answer"] == record["before"]["answer"]
    note = during["note"]  # after the note on the sources' language
    assert note.startswith(record["before"]["note"] or "")
    assert "Building the index: embedding " in note
    assert note.endswith(" passages… This answer is from the documents indexed before it.")
    assert record["still_building"], "the build ended before the answer came: the test proves nothing"
    print(f"\nanswered in {record['during_seconds']:.1f} s during a build of {record['build_seconds']:.0f} s")
