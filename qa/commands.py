"""What `citeqa ask`, `citeqa chat` and `citeqa eval` print; the CLI parses arguments and delegates here."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from qa import prompts
from qa.settings import Settings
from qa.types import Answer

if TYPE_CHECKING:
    from qa.conversation import Turn


def format_answer(answer: Answer) -> str:
    """The answer as plain text for a terminal: answer, note, numbered sources or closest matches."""
    lang = prompts.ui_language(answer.language)
    lines = [answer.text]
    if answer.note:
        lines.append(f"({answer.note})")
    if answer.citations:
        lines.append("")
        for c in answer.citations:
            meta = ", ".join(x for x in (c.publisher, c.date, c.source, c.place.label()) if x)
            lines.append(f"[{c.n}] {c.title} ({meta})")
            lines.append(f"    \u201c{c.quote}\u201d")
    elif answer.refused and answer.closest:
        lines.append("")
        lines.append(f"{prompts.CLOSEST_MATCHES[lang]}:")
        for p in answer.closest:
            snippet = p.text if len(p.text) <= 160 else p.text[:157].rstrip() + "..."
            lines.append(f"  - {p.title} ({p.source}): {snippet}")
    return "\n".join(lines)


def ask(args: argparse.Namespace, settings: Settings) -> int:
    from qa.pipeline import MODE_GENERATIVE, answer
    from vectorstore.build_lock import running_update

    if args.k is not None and not 1 <= args.k <= 50:
        print("citeqa: --k must be between 1 and 50", file=sys.stderr)
        return 2
    if settings.mode == MODE_GENERATIVE and not args.json:
        result = stream_answer(args.question, settings, args.k)
    else:
        result = answer(args.question, settings, k=args.k)
    # A database's updates commit document by document; only a folder's build has a progress file.
    if not settings.store.url and (update := running_update(settings.resolved_index_dir)) is not None:
        result = result.with_note(f"{update} {prompts.BEFORE_UPDATE}")
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_answer(result))
    return 0


def stream_answer(
    question: str, settings: Settings, k: int | None, history: Sequence[Turn] | None = None
) -> Answer:
    """Write the generative draft to stderr as it comes, then return the verified Answer; when the
    draft was not shown as the answer, say so on stderr too."""
    from qa.generate.rewrite import MODE_FALLBACK
    from qa.pipeline import answer_stream

    drafted = False
    for item in answer_stream(question, settings, k=k, history=history):
        if isinstance(item, Answer):
            if drafted:
                sys.stderr.write("\n")
                if item.mode == MODE_FALLBACK:
                    print(prompts.DRAFT_REPLACED[prompts.ui_language(item.language)], file=sys.stderr)
                sys.stderr.flush()
            return item
        if not drafted:
            sys.stderr.write("Draft: ")
            drafted = True
        sys.stderr.write(item)
        sys.stderr.flush()
    raise RuntimeError("answer_stream ended without an answer")


CHAT_GREETING = (
    "Ask about the documents; a follow-up is read with the conversation before it. "
    "/new starts a new conversation, Ctrl-D leaves."
)
NEW_CONVERSATION = "/new"


def chat(args: argparse.Namespace, settings: Settings, read_line: Callable[[str], str] = input) -> int:
    """`citeqa chat`: a conversation in the terminal, each answer printed as `citeqa ask` prints it.

    Lines are read with readline's editing and history (when the terminal has it); Ctrl-D leaves,
    Ctrl-C drops the line being typed. A library error (a question too long, no index) is one line on
    stderr and the conversation goes on.
    """
    from qa.conversation import Turn
    from qa.pipeline import MODE_GENERATIVE, answer
    from vectorstore.errors import CiteqaError

    with contextlib.suppress(ImportError):  # not on every platform; input() works without it
        import readline  # noqa: F401 - importing it gives input() line editing and history
    if args.k is not None and not 1 <= args.k <= 50:
        print("citeqa: --k must be between 1 and 50", file=sys.stderr)
        return 2
    print(CHAT_GREETING)
    turns: list[Turn] = []
    while True:
        try:
            line = read_line("> ").strip()
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            continue
        if not line:
            continue
        if line == NEW_CONVERSATION:
            turns.clear()
            print("(A new conversation.)")
            continue
        try:
            if settings.mode == MODE_GENERATIVE:
                result = stream_answer(line, settings, args.k, turns)
            else:
                result = answer(line, settings, k=args.k, history=turns)
        except CiteqaError as err:
            print(f"citeqa: {err}", file=sys.stderr, flush=True)
            continue
        print(format_answer(result), end="\n\n", flush=True)
        turns.append(Turn.of(result))


def evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from qa.evaluate.run import run_cli

    return run_cli(args, settings)
