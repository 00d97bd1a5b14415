"""The HTTP API beside the web chat: REST under /api/v1, OpenAI-compatible chat under /v1, docs at /docs.

`create_api(backend, credentials)` returns the FastAPI app the chat page is mounted on (see
`qa.web.chat.serve`). Every route only translates: a request becomes a call to the `Backend`
(`qa.backend`), its Answer becomes JSON. Errors are JSON objects `{"error": {"message", "type",
"code"}}` with a fitting status, never a traceback (see `qa.web.errors`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from qa.backend import Backend
from qa.conversation import HISTORY_TURNS, MAX_HISTORY_CHARS, MAX_HISTORY_TURNS, HistoryTurn
from qa.web.auth import Credentials, LoginThrottle, ThrottledLogin, client_address
from qa.web.errors import MAX_BODY_BYTES, ApiError, handle_errors

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="citeqa", Bearer realm="citeqa"'}
DOCS_ASSETS = "/docs/assets"
_DOCS_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


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


class PlaceOut(BaseModel):
    """Where in the file: its page (`last_page` when it runs onto later pages), slide and section."""

    page: int | None = None
    last_page: int | None = None
    slide: int | None = None
    section: str | None = None
    location: str | None = Field(None, description='How citations name the place: "p. 12", "slide 3".')


class CitationOut(PlaceOut):
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


class PassageOut(PlaceOut):
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
    413: {"model": ErrorOut, "description": f"A request body over {MAX_BODY_BYTES:,} bytes."},
    503: {"model": ErrorOut, "description": "No usable index, database or model (yet)."},
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
    handle_errors(app)

    return app
