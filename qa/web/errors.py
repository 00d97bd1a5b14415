"""The APIs' errors: one JSON shape and status for everything that goes wrong, and a bound on bodies.

Every error is `{"error": {"message", "type", "code"}}` (the shape OpenAI clients parse) with a
fitting status: 400 `invalid_request_error` a bad question or request (a body that is not JSON in
UTF-8 or nests too deeply included), 401 `authentication_error` missing or wrong credentials, 404 an
unknown model, 413 a body over MAX_BODY_BYTES, 503 `unavailable` no usable index, database or
model (it may come back: /api/v1/health says when), 500 `server_error` anything unexpected (logged
in full, answered in one line). None carries a traceback, and only the 500 drops the connection.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from vectorstore.errors import (
    BadQuestion,
    CiteqaError,
    GenerationUnavailable,
    IndexBusy,
    IndexCorrupt,
    IndexEmpty,
    IndexMismatch,
    IndexNotBuilt,
    IndexUnreadable,
    ModelUnavailable,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

_UNAVAILABLE = (
    IndexNotBuilt,
    IndexMismatch,
    IndexCorrupt,
    IndexBusy,
    IndexEmpty,
    IndexUnreadable,
    StoreUnavailable,  # the database is down or refuses us: it may come back, as /health says
    ModelUnavailable,
    GenerationUnavailable,
)
_UNPARSABLE = "The request body is not JSON in UTF-8, or it nests too deeply."
#: Request bodies of the APIs: a question is under 10,000 characters, a long conversation fits too.
MAX_BODY_BYTES = 4 * 1024 * 1024
_API_PATHS = ("/api/", "/v1/")


class ApiError(Exception):
    """An error answered as `{"error": {"message", "type", "code"}}` with `status`."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code
        self.headers = headers


def error_response(
    status: int, message: str, kind: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    # The shape OpenAI clients parse (`openai.APIStatusError.message`), used by every route alike.
    # A message may quote the request (a field's name); what cannot be UTF-8 is shown escaped.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    body = {"error": {"message": message, "type": kind, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(err: CiteqaError) -> tuple[int, str]:
    """HTTP status and error type for a library error."""
    if isinstance(err, BadQuestion):
        return 400, "invalid_request_error"
    if isinstance(err, _UNAVAILABLE):
        return 503, "unavailable"
    return 500, "server_error"


def too_large() -> HTTPException:
    return HTTPException(413, f"The request body is over {MAX_BODY_BYTES:,} bytes.")


class BodyLimit:
    """ASGI middleware: an API request body over MAX_BODY_BYTES is a 413, never read into memory.

    A body declared too large is read and dropped first (up to 16 times the limit), so the client,
    still sending, gets the answer instead of a reset connection; the chat page's uploads have
    their own limit and pass untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(_API_PATHS):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            drained, more = 0, True
            while more and drained <= 16 * MAX_BODY_BYTES:
                message = await receive()
                drained += len(message.get("body", b""))
                more = message["type"] == "http.request" and message.get("more_body", False)
            error = too_large()
            await error_response(413, str(error.detail), "invalid_request_error")(scope, receive, send)
            return
        received = 0

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise too_large()  # FastAPI passes it on to the handler of HTTPException
            return message

        await self.app(scope, counted, send)


def handle_errors(app: FastAPI) -> None:
    """Answer every error of `app` in the one shape, and bound its API request bodies."""
    app.add_middleware(BodyLimit)  # type: ignore[arg-type]

    @app.exception_handler(ApiError)
    async def api_error(_: Request, err: ApiError) -> JSONResponse:
        return error_response(err.status, err.message, err.kind, err.code, err.headers)

    @app.exception_handler(CiteqaError)
    async def library_error(_: Request, err: CiteqaError) -> JSONResponse:
        status, kind = status_of(err)
        return error_response(status, str(err), kind)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException) -> JSONResponse:
        # FastAPI's own refusals ("There was an error parsing the body": not UTF-8, nested too deep)
        # in the same shape as every other error.
        message = _UNPARSABLE if err.status_code == 400 else str(err.detail)
        kind = "invalid_request_error" if err.status_code < 500 else "server_error"
        return error_response(err.status_code, message, kind, headers=dict(err.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, err: RequestValidationError) -> JSONResponse:
        return error_response(400, validation_message(err), "invalid_request_error")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=err)
        return error_response(
            500, f"Unexpected error ({type(err).__name__}); see the server log.", "server_error"
        )


def validation_message(err: RequestValidationError) -> str:
    """The first problem of a malformed request in one line, e.g. "question: Field required"."""
    problems = err.errors()
    if not problems:
        return "Malformed request."
    first = problems[0]
    if first.get("type") == "json_invalid":
        at = first.get("loc", ("body", "?"))[-1]
        return f"The request body is not valid JSON: {first.get('ctx', {}).get('error')} at character {at}."
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = str(first.get("msg", "invalid"))
    return f"{where}: {message}" if where else message
