"""Credentials, where they come from, the exposure warning and the throttle on wrong passwords."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import pytest

from qa.web.auth import (
    AuthError,
    Credentials,
    LoginThrottle,
    exposure_warning,
    is_login_page,
    is_loopback,
    resolve_credentials,
)

ANN = Credentials("ann", "s3:cret")


def _basic(pair: str) -> str:
    return "Basic " + base64.b64encode(pair.encode()).decode()


def test_credentials_take_user_and_password_and_keep_colons_in_the_password() -> None:
    assert Credentials.parse("ann:s3:cret", "--auth") == ANN
    for bad in ("ann", "ann:", ":pw", ""):
        with pytest.raises(AuthError, match="--auth takes USER:PASS"):
            Credentials.parse(bad, "--auth")
    assert "s3:cret" not in repr(ANN)


def test_a_header_is_checked_as_basic_or_as_the_bearer_key_user_colon_pass() -> None:
    assert ANN.matches_header(_basic("ann:s3:cret")) is True
    assert ANN.matches_header("Bearer ann:s3:cret") is True
    assert ANN.matches_header("bearer  ann:s3:cret ") is True
    assert ANN.matches_header(_basic("ann:wrong")) is False
    assert ANN.matches_header("Bearer s3:cret") is False
    assert ANN.matches_header("Bearer ann") is False
    assert ANN.matches_header("Basic !!!not-base64") is False
    assert ANN.matches_header(None) is None
    assert ANN.matches_header("Digest x") is None


def test_credentials_come_from_the_flag_the_file_or_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "auth"
    secret.write_text("bob:pw2\n", encoding="utf-8")
    flag, note = resolve_credentials("ann:s3:cret", None, "env:pw3")
    assert flag == ANN and note is not None and "process list" in note
    assert resolve_credentials(None, str(secret), "env:pw3") == (Credentials("bob", "pw2"), None)
    assert resolve_credentials(None, None, "env:pw3") == (Credentials("env", "pw3"), None)
    assert resolve_credentials(None, None, None) == (None, None)
    with pytest.raises(AuthError, match="not both"):
        resolve_credentials("ann:x", str(secret), None)
    with pytest.raises(AuthError, match="cannot read --auth-file"):
        resolve_credentials(None, str(tmp_path / "missing"), None)
    secret.write_text("a:b\nc:d\n", encoding="utf-8")
    with pytest.raises(AuthError, match="one line"):
        resolve_credentials(None, str(secret), None)


def test_only_an_address_beyond_loopback_without_credentials_is_warned_about() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.0.2.7", "example.org"))
    warning = exposure_warning("0.0.0.0", None, 7860)
    assert warning is not None and warning.startswith("warning: serving on 0.0.0.0:7860 without --auth")
    assert "CITEQA_AUTH" in warning
    assert exposure_warning("0.0.0.0", ANN, 7860) is None
    assert exposure_warning("127.0.0.1", None, 7860) is None


def _check(throttle: LoginThrottle, address: str, result: bool | None) -> bool | None:
    async def attempt() -> bool | None:
        return result

    return asyncio.run(throttle.check(address, attempt))


def test_each_wrong_password_waits_twice_as_long_until_a_right_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.web.auth

    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:  # what was waited, without waiting
        waits.append(seconds)

    monkeypatch.setattr(qa.web.auth.asyncio, "sleep", no_sleep)
    throttle = LoginThrottle(base_s=1.0, max_s=30.0)
    for _ in range(7):
        assert _check(throttle, "10.0.0.1", False) is False
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert _check(throttle, "10.0.0.2", False) is False and waits[-1] == 1.0  # another client: its own count
    assert _check(throttle, "10.0.0.1", None) is None and len(waits) == 8  # no credentials: not a guess
    assert _check(throttle, "10.0.0.1", True) is True and len(waits) == 8
    assert _check(throttle, "10.0.0.1", False) is False and waits[-1] == 1.0  # a success reset the count


def test_parallel_guesses_from_one_client_take_their_turn() -> None:
    throttle = LoginThrottle(base_s=0.05, max_s=10)

    async def wrong() -> bool:
        return False

    async def burst() -> None:
        await asyncio.gather(*(throttle.check("10.0.0.9", wrong) for _ in range(3)))

    started = time.perf_counter()
    asyncio.run(burst())
    assert time.perf_counter() - started >= 0.05 + 0.1 + 0.2


def test_failures_are_forgotten_after_a_quiet_while() -> None:
    now = [0.0]
    throttle = LoginThrottle(base_s=0.0, forget_s=60, clock=lambda: now[0])
    for _ in range(3):
        _check(throttle, "10.0.0.3", False)
    assert throttle._clients["10.0.0.3"].failures == 3
    now[0] = 61.0
    _check(throttle, "10.0.0.3", False)
    assert throttle._clients["10.0.0.3"].failures == 1


@pytest.mark.parametrize(
    ("path", "open_before_login"),
    [
        ("/", True),
        ("/login", True),
        ("/assets/index-abc.js", True),
        ("/theme.css", True),
        ("/gradio_api/cancel", False),
        ("/gradio_api/reset", False),
        ("/gradio_api/upload", False),
        ("/config", False),
        ("/assets/../gradio_api/cancel", False),
        ("/assets/./x.js", False),
        ("//assets/x.js", False),
        ("/assets\\..\\gradio_api/cancel", False),
        ("/static//x", False),
        ("/loginx", False),
        ("/gradio_api/vibe-edit", False),
    ],
)
def test_only_the_login_form_is_open_before_logging_in(path: str, open_before_login: bool) -> None:
    # Issue 22, case 8: Gradio itself left /gradio_api/cancel and /gradio_api/reset open.
    assert is_login_page(path) is open_before_login
