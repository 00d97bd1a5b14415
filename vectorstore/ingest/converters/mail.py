"""E-mail through the standard library: a message (.eml) or a mailbox (.mbox) of them.

A message's subject is its title, its date its date, its sender its publisher, and its text part (or,
without one, its HTML part) its text. Attachments are returned as files of their own; the loader
indexes those of a supported type as documents. A mailbox gives each message as such a file.
"""

from __future__ import annotations

import mailbox
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

from bs4 import BeautifulSoup

from vectorstore.errors import UnsupportedDocument
from vectorstore.ingest.converters.base import Attachment, Extracted, Part, Request, clean_field, day_of
from vectorstore.ingest.converters.html import body_text
from vectorstore.ingest.converters.text import decode

_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f]+")


def convert_message(request: Request) -> Extracted:
    try:
        message = BytesParser(policy=policy.default).parsebytes(request.raw)
    except Exception as err:  # noqa: BLE001 - the parser is lenient; anything it raises is damage
        raise UnsupportedDocument(
            f"{request.rel}: damaged or unreadable e-mail ({type(err).__name__})"
        ) from None
    if not isinstance(message, EmailMessage) or not (message.keys() or message.get_payload()):
        raise UnsupportedDocument(f"{request.rel}: not an e-mail message")
    text, notes = _body(message, request.rel)
    return Extracted(
        (Part(text),),
        title=_header(message, "subject"),
        date=_date(message),
        publisher=_sender(message),
        attachments=tuple(_attachments(message)),
        notes=tuple(notes),
    )


def convert_mailbox(request: Request) -> Extracted:
    """A mailbox has no text of its own: each message is an attachment ("1.eml", "2.eml", ...)."""
    if request.path is None:
        raise UnsupportedDocument(f"{request.rel}: a mailbox inside another file is not read")
    if not request.raw.startswith(b"From "):
        raise UnsupportedDocument(f"{request.rel}: not an mbox mailbox (it must start with a 'From ' line)")
    try:
        box = mailbox.mbox(request.path, create=False)
        try:
            messages = [box.get_bytes(key) for key in box.iterkeys()]
        finally:
            box.close()
    except (OSError, mailbox.Error) as err:
        raise UnsupportedDocument(
            f"{request.rel}: damaged or unreadable mailbox ({type(err).__name__})"
        ) from None
    return Extracted((), attachments=tuple(Attachment(f"{n}.eml", raw) for n, raw in enumerate(messages, 1)))


def _header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
        return clean_field(" ".join(str(value).split())) if value is not None else None
    except Exception:  # noqa: BLE001 - a header in a broken encoding is left out, not fatal
        return None


def _date(message: EmailMessage) -> str | None:
    value = _header(message, "date")
    try:
        return day_of(parsedate_to_datetime(value)) if value else None
    except (TypeError, ValueError):
        return None


def _sender(message: EmailMessage) -> str | None:
    try:
        addresses = message["from"].addresses if message["from"] is not None else ()
    except Exception:  # noqa: BLE001 - an unparsable From header
        return _header(message, "from")
    if not addresses:
        return _header(message, "from")
    return clean_field(addresses[0].display_name) or clean_field(addresses[0].addr_spec)


def _body(message: EmailMessage, rel: str) -> tuple[str, list[str]]:
    """The message's text part (or HTML part as text) and a note when its charset was wrong."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", []
    payload = part.get_payload(decode=True)
    raw = payload if isinstance(payload, bytes) else b""
    charset = part.get_content_charset() or "utf-8"
    notes: list[str] = []
    try:
        text = raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        try:
            text, replaced = decode(raw, rel)
        except UnsupportedDocument:
            text, replaced = raw.decode("utf-8", errors="replace"), 1
        damage = f", {replaced:,} invalid byte sequences replaced by U+FFFD" if replaced else ""
        notes.append(f"{rel}: the text is not in its declared charset {charset!r}; read as detected{damage}")
    if part.get_content_subtype() == "html":
        text = body_text(BeautifulSoup(text, "html.parser"))
    return text, notes


def _attachments(message: EmailMessage) -> list[Attachment]:
    found = []
    for part in message.iter_attachments():
        name = part.get_filename()
        payload = part.get_payload(decode=True)
        if name and isinstance(payload, bytes):
            found.append(Attachment(_UNSAFE_NAME.sub("_", name).strip(". ") or "attachment", payload))
    return found
