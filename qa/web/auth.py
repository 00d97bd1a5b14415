"""Who may use the web app and its APIs: the USER:PASS credentials and the throttle on wrong ones.

One pair of credentials guards everything the server offers. The chat page uses Gradio's login form;
scripts send the same pair as HTTP Basic (`curl -u USER:PASS`) or as a Bearer key, which is the
whole `USER:PASS` string (`OpenAI(api_key="USER:PASS")`), because OpenAI-style clients can only
send a key. The pair comes from `--auth`, `--auth-file` or the `CITEQA_AUTH` variable; the last two
keep the password out of the process list.

Wrong passwords are slowed down per client address (`LoginThrottle`): each failure is answered only
after a delay that doubles with every further failure, and a client's attempts are checked one at a
time, so guessing gets no faster with parallel requests.

Gradio checks the login on only some of its routes (`/gradio_api/cancel` and `/gradio_api/reset`, for
one, answered anyone), so `LoginRequired` stands in front of the whole chat app: every route needs the
login cookie except what the login form itself loads (`LOGIN_PAGE`), a route added by a later Gradio
included.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from vectorstore.errors import CiteqaError

#: Names of where the credentials may come from, in the order they are tried.
AUTH_ENV = "CITEQA_AUTH"
_LOGIN_PATHS = ("/login", "/login/")
_REFUSED = (400, 401, 403)  # Gradio answers a wrong password with 400
#: The chat app's routes open before logging in: the page (which is the login form until then), the
#: scripts, styles and icons it loads, and the form's POST. Nothing in them reads documents or events.
LOGIN_PAGE = frozenset(
    {"/", "/login", "/login/", "/logout", "/favicon.ico", "/theme.css", "/robots.txt", "/manifest.json"}
)
LOGIN_PAGE_FOLDERS = ("/assets/", "/static/", "/svelte/")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AuthError(CiteqaError):
    """The credentials given to the server are unusable (malformed, unreadable file)."""


@dataclass(frozen=True)
class Credentials:
    """The one user name and password the server accepts."""

    user: str
    password: str = field(repr=False)

    @classmethod
    def parse(cls, value: str, where: str) -> Credentials:
        """`USER:PASS` (the password may contain colons); `where` names the source in errors."""
        user, sep, password = value.strip("\r\n").partition(":")
        if not sep or not user or not password:
            raise AuthError(f"{where} takes USER:PASS, both non-empty")
        return cls(user, password)

    @property
    def key(self) -> str:
        """The Bearer key API clients send: the whole USER:PASS string."""
        return f"{self.user}:{self.password}"

    def matches(self, user: str, password: str) -> bool:
        """Constant-time comparison, so response times do not reveal how much of a guess was right."""
        same_user = hmac.compare_digest(user.encode(), self.user.encode())
        same_password = hmac.compare_digest(password.encode(), self.password.encode())
        return same_user and same_password

    def matches_header(self, header: str | None) -> bool | None:
        """Check an Authorization header: None when there is none (or of another scheme), else whether
        its Basic pair or Bearer key is right."""
        if not header:
            return None
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            user, sep, password = value.partition(":")
            return bool(sep) and self.matches(user, password)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, sep, password = decoded.partition(":")
            return bool(sep) and self.matches(user, password)
        return None


def resolve_credentials(
    flag: str | None, flag_file: str | None, env_value: str | None
) -> tuple[Credentials | None, str | None]:
    """The credentials from `--auth`, `--auth-file` or CITEQA_AUTH (first given wins), and a note
    to print when the password was given on the command line, where every user of the machine
    can read it in the process list.

    Raises:
        AuthError: Both flags given, a malformed pair, or an unreadable file.
    """
    if flag and flag_file:
        raise AuthError("give --auth or --auth-file, not both")
    if flag:
        note = (
            "note: a password given with --auth is visible in the process list; "
            f"{AUTH_ENV}=USER:PASS or --auth-file FILE keep it out"
        )
        return Credentials.parse(flag, "--auth"), note
    if flag_file:
        path = Path(flag_file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise AuthError(f"cannot read --auth-file {path} ({type(err).__name__})") from None
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) != 1:
            raise AuthError(f"--auth-file {path} must hold one line USER:PASS")
        return Credentials.parse(lines[0], f"--auth-file {path}"), None
    if env_value:
        return Credentials.parse(env_value, AUTH_ENV), None
    return None, None


def is_loopback(host: str) -> bool:
    """Whether a listen address is reachable only from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def exposure_warning(host: str, credentials: Credentials | None, port: int) -> str | None:
    """The warning printed when the server would be reachable from other machines without a password."""
    if credentials is not None or is_loopback(host):
        return None
    return (
        f"warning: serving on {host}:{port} without --auth: anyone who can reach this machine can read "
        f"the documents and upload files; set {AUTH_ENV}=USER:PASS (or --auth-file FILE)"
    )


@dataclass
class _Client:
    failures: int = 0
    last_failure: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class LoginThrottle:
    """Slows down wrong passwords per client address.

    The n-th consecutive failure of a client is answered after `base_s * 2**(n-1)` seconds (at most
    `max_s`), while that client's further attempts wait their turn; a success or `forget_s` without
    failure starts the count again. Requests without any credentials are not counted: they are a
    browser's first visit, not a guess.
    """

    def __init__(
        self,
        base_s: float = 1.0,
        max_s: float = 30.0,
        forget_s: float = 900.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_s, self.max_s, self.forget_s = base_s, max_s, forget_s
        self.max_clients = max_clients
        self._clock = clock
        self._clients: dict[str, _Client] = {}

    def _client(self, address: str) -> _Client:
        now = self._clock()
        client = self._clients.get(address)
        if client is not None and client.failures and now - client.last_failure > self.forget_s:
            client.failures = 0
        if client is None:
            if len(self._clients) >= self.max_clients:
                self._forget_idle(now)
            client = self._clients[address] = _Client()
        return client

    def _forget_idle(self, now: float) -> None:
        for address, client in list(self._clients.items()):
            if not client.lock.locked() and (
                not client.failures or now - client.last_failure > self.forget_s
            ):
                del self._clients[address]
        if len(self._clients) >= self.max_clients:  # all failing recently: drop the oldest half
            oldest = sorted(self._clients, key=lambda a: self._clients[a].last_failure)
            for address in oldest[: len(oldest) // 2]:
                if not self._clients[address].lock.locked():
                    del self._clients[address]

    def delay_after(self, failures: int) -> float:
        return float(min(self.max_s, self.base_s * 2 ** max(0, failures - 1)))

    async def check(self, address: str, attempt: Callable[[], Awaitable[bool | None]]) -> bool | None:
        """Run `attempt` (True: right credentials, False: wrong, None: none given) in the client's turn;
        after a wrong one, wait out the delay before returning, still holding the turn."""
        client = self._client(address)
        async with client.lock:
            ok = await attempt()
            if ok is True:
                client.failures = 0
            elif ok is False:
                client.failures += 1
                client.last_failure = self._clock()
                await asyncio.sleep(self.delay_after(client.failures))
            return ok


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class ThrottledLogin:
    """ASGI middleware putting Gradio's login form (POST …/login) behind a `LoginThrottle`.

    Gradio checks the password itself and answers 400 when it is wrong; this holds that answer back
    for the throttle's delay. Other requests pass untouched.
    """

    def __init__(self, app: ASGIApp, throttle: LoginThrottle) -> None:
        self.app = app
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and str(scope.get("path", "")).endswith(_LOGIN_PATHS)
        ):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        status: list[int] = []

        async def hold(message: Message) -> None:
            # Keep the whole answer until the throttle has decided how long it waits.
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            held.append(message)

        async def attempt() -> bool:
            await self.app(scope, receive, hold)
            return bool(status) and status[0] not in _REFUSED

        await self.throttle.check(client_address(scope), attempt)
        for message in held:
            await send(message)


class GradioTokens(Protocol):
    """What `LoginRequired` reads of Gradio's app: its cookie name suffix and the tokens it handed out."""

    cookie_id: str
    tokens: dict[str, str]


def is_login_page(path: str) -> bool:
    """Whether `path` is part of the login form (a path with `.` or `..` steps, or `//`, never is)."""
    if any(step in (".", "..") for step in path.split("/")) or "//" in path or "\\" in path:
        return False
    return path in LOGIN_PAGE or path.startswith(LOGIN_PAGE_FOLDERS)


class LoginRequired:
    """ASGI middleware in front of Gradio's app: every route but the login form's needs the login cookie.

    Refused HTTP requests get 401 and the API's JSON error shape; a refused websocket is closed.
    """

    def __init__(self, app: ASGIApp, gradio: GradioTokens) -> None:
        self.app = app
        self.gradio = gradio

    def logged_in(self, scope: Scope) -> bool:
        cookies = HTTPConnection(scope).cookies
        suffix = self.gradio.cookie_id
        for name in (f"access-token-{suffix}", f"access-token-unsecure-{suffix}"):
            token = cookies.get(name)
            if token and token in self.gradio.tokens:
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or is_login_page(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        if self.logged_in(scope):
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = {
            "error": {
                "message": "Log in first: open the chat page, or send USER:PASS to the REST API.",
                "type": "authentication_error",
                "code": None,
            }
        }
        await JSONResponse(body, status_code=401)(scope, receive, send)
