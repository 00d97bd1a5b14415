"""The HTTP API beside the web chat: REST under /api/v1, OpenAI-compatible chat under /v1, docs at /docs.

`create_api(backend, credentials)` returns the FastAPI app the chat page is mounted on (see
`qa.web.chat.serve`). Every route only translates: a request becomes a call to the `Backend`
(`qa.backend`), its Answer becomes JSON. Errors are JSON objects `{"error": {"message", "type"}}`
with a fitting status (400 a bad question or request, 401 missing or wrong credentials, 503 no
usable index or model) and never carry a traceback; unexpected failures are logged in full and
answered with a one-line 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from qa.backend import Backend
from qa.conversation import HISTORY_TURNS, MAX_HISTORY_CHARS, MAX_HISTORY_TURNS, HistoryTurn
from qa.web.auth import Credentials, LoginThrottle, ThrottledLogin, client_address
from vectorstore.errors import (
    BadQuestion,
    CiteqaError,
    GenerationUnavailable,
    IndexBusy,
    IndexCorrupt,
    IndexMismatch,
    IndexNotBuilt,
    ModelUnavailable,
)

log = logging.getLogger(__name__)

_UNAVAILABLE = (
    IndexNotBuilt,
    IndexMismatch,
    IndexCorrupt,
    IndexBusy,
    ModelUnavailable,
    GenerationUnavailable,
)
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="citeqa", Bearer realm="citeqa"'}
DOCS_ASSETS = "/docs/assets"
_DOCS_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


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
    body = {"error": {"message": message, "type": kind, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(err: CiteqaError) -> tuple[int, str]:
    """HTTP status and error type for a library error."""
    if isinstance(err, BadQuestion):
        return 400, "invalid_request_error"
    if isinstance(err, _UNAVAILABLE):
        return 503, "unavailable"
    return 500, "server_error"


# ------------------------------------------------------------------------------------------- models


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        description="The question, in any language.", examples=["What was offered at Istanbul?"]
    )
    k: int | None = Field(None, ge=1, le=50, description="Passages to retrieve (default: the k setting).")
    mode: Literal["extractive", "generative"] | None = Field(
        None, description="extractive (quoted sentences) or generative (default: the mode setting)."
    )
    history: list[HistoryTurn] | None = Field(
        None,
        max_length=MAX_HISTORY_TURNS,
        description=f"The conversation's earlier turns, oldest first; a follow-up is read with them. At most "
        f"{MAX_HISTORY_TURNS} turns of {MAX_HISTORY_CHARS:,} characters a field; the last {HISTORY_TURNS} "
        "are read.",
    )


class CitationOut(BaseModel):
    n: int
    source: str
    title: str
    date: str | None
    publisher: str | None
    language: str | None
    chunk_id: str
    quote: str
    passage: str
    score: float


class PassageOut(BaseModel):
    rank: int
    chunk_id: str
    source: str
    title: str
    date: str | None
    score: float
    dense: float
    text: str


class DecisionOut(BaseModel):
    """Why the question was answered or refused: the signal, its value and the bar it had to reach."""

    signal: str
    value: float
    bar: float


class AnswerOut(BaseModel):
    """The object `citeqa ask --json` prints."""

    question: str
    answer: str = Field(description="The answer with its [n] markers, or the refusal.")
    refused: bool
    mode: str
    language: str
    note: str | None
    citations: list[CitationOut]
    passages: list[PassageOut]
    closest_matches: list[PassageOut]
    decision: DecisionOut | None
    retrieval_question: str | None = Field(
        None,
        description="What was retrieved: the question, or a follow-up read together with the conversation.",
    )
    history_used: bool = Field(False, description="Whether the conversation's earlier turns were used.")
    timings_ms: dict[str, float]


class DocumentOut(BaseModel):
    file: str
    title: str
    date: str | None
    publisher: str | None
    language: str | None
    chunks: int


class DocumentsOut(BaseModel):
    documents: list[DocumentOut]


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "A bad question or request."},
    401: {"model": ErrorOut, "description": "Missing or wrong credentials (server started with --auth)."},
    503: {"model": ErrorOut, "description": "No usable index or model yet."},
}


# ------------------------------------------------------------------------------------------- routes


def rest_router(backend: Backend) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["citeqa"], responses=ERRORS)

    @router.post("/ask", response_model=AnswerOut)
    def ask(request: AskRequest) -> dict[str, Any]:
        """Answer one question with citations: the object `citeqa ask --json` prints."""
        if request.history:
            turns = [t.turn() for t in request.history]
            return backend.answer(request.question, request.k, request.mode, history=turns).to_dict()
        return backend.answer(request.question, request.k, request.mode).to_dict()

    @router.get("/health")
    def health() -> JSONResponse:
        """200 with what is indexed when questions can be answered, else 503 saying why."""
        state = backend.health()
        return JSONResponse(state, status_code=200 if state.get("status") == "ok" else 503)

    @router.get("/documents", response_model=DocumentsOut)
    def documents() -> dict[str, Any]:
        """What is indexed: one entry per document with its file, title, date, language and chunks."""
        return {"documents": backend.documents()}

    return router


def make_guard(credentials: Credentials, throttle: LoginThrottle) -> Callable[[Request], Awaitable[None]]:
    """A route dependency accepting HTTP Basic USER:PASS or the Bearer key USER:PASS."""

    async def guard(request: Request) -> None:
        header = request.headers.get("authorization")

        async def attempt() -> bool | None:
            return credentials.matches_header(header)

        if await throttle.check(client_address(request.scope), attempt) is not True:
            raise ApiError(
                401,
                "Wrong credentials."
                if header
                else "Credentials required: send USER:PASS as HTTP Basic or as the Bearer key.",
                "authentication_error",
                "invalid_api_key" if header else None,
                headers=_CHALLENGE,
            )

    return guard


def _docs_routes(app: FastAPI, dependencies: list[Any]) -> None:
    """OpenAPI schema and Swagger UI served from the installed package: no CDN, so it works offline."""
    from swagger_ui_bundle import swagger_ui_path

    @app.get("/openapi.json", include_in_schema=False, dependencies=dependencies)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=dependencies)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="citeqa API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )

    @app.get(f"{DOCS_ASSETS}/{{name}}", include_in_schema=False, dependencies=dependencies)
    def asset(name: str) -> FileResponse:
        if name not in _DOCS_FILES:
            raise ApiError(404, f"No such file: {name}", "not_found")
        return FileResponse(Path(str(swagger_ui_path)) / name)


def _version() -> str:
    try:
        return metadata.version("citeqa")
    except metadata.PackageNotFoundError:
        return "0"


def create_api(backend: Backend, credentials: Credentials | None = None) -> FastAPI:
    """The FastAPI app with the REST and OpenAI-compatible routes and their docs.

    With `credentials`, every route (docs included) needs them, wrong ones are throttled, and so is
    the login form of the chat page later mounted on this app.
    """
    from qa.web.openai_api import openai_router  # it imports this module's errors

    app = FastAPI(
        title="citeqa",
        version=_version(),
        description="Cited answers from your documents: REST under /api/v1, OpenAI-compatible chat "
        "under /v1. With --auth, send USER:PASS as HTTP Basic or as the Bearer key.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    dependencies: list[Any] = []
    if credentials is not None:
        throttle = LoginThrottle()
        dependencies = [Depends(make_guard(credentials, throttle))]
        app.add_middleware(ThrottledLogin, throttle=throttle)  # type: ignore[arg-type]
    app.include_router(rest_router(backend), dependencies=dependencies)
    app.include_router(openai_router(backend), dependencies=dependencies)
    _docs_routes(app, dependencies)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, err: ApiError) -> JSONResponse:
        return error_response(err.status, err.message, err.kind, err.code, err.headers)

    @app.exception_handler(CiteqaError)
    async def library_error(_: Request, err: CiteqaError) -> JSONResponse:
        status, kind = status_of(err)
        return error_response(status, str(err), kind)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, err: RequestValidationError) -> JSONResponse:
        return error_response(400, validation_message(err), "invalid_request_error")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=err)
        return error_response(
            500, f"Unexpected error ({type(err).__name__}); see the server log.", "server_error"
        )

    return app


def validation_message(err: RequestValidationError) -> str:
    """The first problem of a malformed request in one line, e.g. "question: Field required"."""
    problems = err.errors()
    if not problems:
        return "Malformed request."
    first = problems[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = str(first.get("msg", "invalid"))
    return f"{where}: {message}" if where else message
