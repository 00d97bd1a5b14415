"""`citeqa serve`: the chat page and the HTTP APIs on one port, 127.0.0.1 unless told otherwise.

The FastAPI app of `qa.web.api` (REST, OpenAI-compatible chat, docs) carries the Gradio chat page mounted
at `/`; both answer through one `ChatService`, so they see the same index and builds. With a password,
every route of the chat app needs the login (`qa.web.auth.LoginRequired`), not only those Gradio checks.
uvicorn serves it on a socket bound here first, so a busy port or a bad address is one line, not a
traceback, and Gradio's own launcher (with its share-link hint) is never run.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from typing import Any

from qa.settings import Settings
from qa.web.auth import AuthError, Credentials, LoginRequired, exposure_warning, resolve_credentials

#: Queue size of the chat page's events; DEFAULT_CONCURRENCY of them run at once.
_QUEUE_SIZE = 256


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, or OSError."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run_server(app: Any, sock: socket.socket) -> None:
    """Serve `app` on `sock` until interrupted (tests replace this to serve nothing)."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])


def build_server(settings: Settings, credentials: Credentials | None) -> Any:
    """The one ASGI app: the APIs with the chat page mounted at `/`."""
    import gradio as gr

    from qa.web.api import create_api
    from qa.web.chat import DEFAULT_CONCURRENCY, ChatService, build_app
    from qa.web.collection import Collection
    from qa.web.render import CSS, theme

    service = ChatService(settings, Collection(settings))
    page = build_app(settings, service=service)
    page.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=_QUEUE_SIZE)
    api = create_api(service, credentials)
    server = gr.mount_gradio_app(
        api,
        page,
        path="/",
        auth=credentials.matches if credentials else None,
        show_error=False,
        ssr_mode=False,
        max_file_size=settings.store.max_file_bytes,
        footer_links=["api"],
        theme=theme(),
        css=CSS,
    )
    # Gradio checks that a file an event names is one its upload route received only once `launch()`
    # has run; mounted, it never has (gradio 6.31), and any server path would be read. citeqa's own
    # check (qa.web.received) comes after Gradio's; this stops Gradio copying such a file first.
    page.has_launched = True
    if credentials is not None:
        chat = gradio_app(server)
        chat.add_middleware(LoginRequired, gradio=chat)  # type: ignore[arg-type]
    return server


def gradio_app(server: Any) -> Any:
    """The Gradio app `mount_gradio_app` mounted on `server`."""
    from gradio.routes import App
    from starlette.routing import Mount

    for route in server.routes:
        if isinstance(route, Mount) and isinstance(route.app, App):
            return route.app
    raise RuntimeError("no Gradio app is mounted")


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the server on args.host:args.port (127.0.0.1:7860 by default), blocking until stopped."""
    host = getattr(args, "host", None) or "127.0.0.1"
    port = getattr(args, "port", None) or 7860
    env_auth = settings.auth.get_secret_value() if settings.auth is not None else None
    try:
        credentials, note = resolve_credentials(
            getattr(args, "auth", None), getattr(args, "auth_file", None), env_auth
        )
    except AuthError as err:
        print(f"citeqa: {err}", file=sys.stderr)
        return 2
    for line in (note, exposure_warning(host, credentials, port)):
        if line:
            print(f"citeqa: {line}", file=sys.stderr)
    try:
        sock = bind(host, port)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        print(
            f"citeqa: cannot listen on {host}:{port} ({reason}); pick another --port or --host",
            file=sys.stderr,
        )
        return 1
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from qa.generate.llm_setup import allow_background_fetch

    if settings.generation.fetch_missing:
        allow_background_fetch()  # a request must not wait minutes for the chat model: answer extractively
    try:
        app = build_server(settings, credentials)
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{sock.getsockname()[1]}"
        print(
            f"citeqa: chat on {url}/ (REST {url}/api/v1, OpenAI-compatible {url}/v1, docs {url}/docs)"
            + (" with login" if credentials else ""),
            file=sys.stderr,
            flush=True,
        )
        run_server(app, sock)
    finally:
        sock.close()
    return 0
