"""Documents of every supported format, built with the libraries that write them (and Pillow for scans)."""

from __future__ import annotations

import io
import mailbox
import struct
import zlib
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def text_pdf(lines: list[str], info: dict[str, str] | None = None) -> bytes:
    """A one-page PDF showing `lines` in Helvetica, with an optional /Info dictionary."""

    def literal(text: str) -> str:
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    content = "BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(f"{literal(line)} Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        " /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content.encode('latin-1'))} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    if info:
        objects.append("<< " + " ".join(f"/{key} {literal(value)}" for key, value in info.items()) + " >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    trailer_info = f" /Info {len(objects)} 0 R" if info else ""
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R{trailer_info} >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def docx_bytes(
    title: str, author: str, sections: list[tuple[str, list[str]]], table: list[list[str]]
) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = author
    document.core_properties.created = datetime(2024, 3, 5, 10, 0)
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, cell in enumerate(row):
            grid.cell(r, c).text = cell
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def odt_bytes(title: str, heading: str, paragraphs: list[str]) -> bytes:
    from odf.dc import Creator, Title
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    document.meta.addElement(Title(text=title))
    document.meta.addElement(Creator(text="Gemeente Utrecht"))
    document.text.addElement(H(outlinelevel=1, text=heading))
    for paragraph in paragraphs:
        document.text.addElement(P(text=paragraph))
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def pptx_bytes(slides: list[tuple[str, str, str]]) -> bytes:
    """Slides of (title, body, notes)."""
    import pptx

    presentation = pptx.Presentation()
    for title, body, notes in slides:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def epub_bytes(title: str, chapters: list[tuple[str, str]], path: Path) -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("citeqa-test-book")
    book.set_title(title)
    book.set_language("en")
    book.add_author("A. Writer")
    book.add_metadata("DC", "date", "2021-06-01")
    items = []
    for n, (heading, body) in enumerate(chapters, start=1):
        item = epub.EpubHtml(title=heading, file_name=f"chap_{n}.xhtml", lang="en")
        item.content = f"<html><body><h1>{heading}</h1><p>{body}</p></body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)
    return path.read_bytes()


def message(subject: str, sender: str, body: str, attachments: list[tuple[str, bytes]] = ()) -> EmailMessage:  # type: ignore[assignment]
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = sender
    mail["To"] = "team@example.org"
    mail["Date"] = "Tue, 14 May 2024 09:30:00 +0200"
    mail.set_content(body)
    for name, data in attachments:
        mail.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return mail


def mbox_file(path: Path, messages: list[EmailMessage]) -> None:
    box = mailbox.mbox(path)
    try:
        for mail in messages:
            box.add(mail)
        box.flush()
    finally:
        box.close()


def rtf_bytes(paragraphs: list[str]) -> bytes:
    def escaped(text: str) -> str:
        return "".join(ch if ord(ch) < 128 else f"\\'{ord(ch):02x}" for ch in text)

    body = "".join(f"{escaped(p)}\\par\n" for p in paragraphs)
    return ("{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Arial;}}\n" + body + "}").encode("ascii")


def text_image(lines: list[str], size: int = 40) -> Image.Image:
    """Black text on white at about 300 dpi for a 14 pt font: what a scanner gives Tesseract."""
    font = ImageFont.truetype(FONT, size)
    width = max(int(font.getlength(line)) for line in lines) + 120
    image = Image.new("L", (width, 60 + len(lines) * int(size * 1.3) + 60), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((60, 60 + i * int(size * 1.3)), line, font=font, fill=0)
    return image


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def scanned_pdf(images: list[Image.Image]) -> bytes:
    """A PDF whose pages are only images (no text layer), as a scanner writes them."""
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=300)
    return out.getvalue()


def join_pdfs(*pdfs: bytes) -> bytes:
    writer = PdfWriter()
    for pdf in pdfs:
        for page in PdfReader(io.BytesIO(pdf)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bomb(megabytes: int, declared: int | None = None) -> bytes:
    """A .docx-looking zip whose word/document.xml inflates to `megabytes` MB of zeros (about 1 kB of
    deflate data per MB). `declared`: the uncompressed size its headers claim, to lie (default: true).

    Written by hand from one deflate block repeated: after a full flush a block of zeros always
    compresses to the same bytes, so the bomb costs milliseconds to make instead of a minute.
    """
    block = b"\0" * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    data = piece * megabytes + b"\x03\x00"  # a final empty fixed-Huffman block ends the stream
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    size = megabytes << 20 if declared is None else declared
    entries = [
        (b"[Content_Types].xml", 0, b"<Types/>", zlib.crc32(b"<Types/>"), 8),
        (b"word/document.xml", 8, data, crc, size),
    ]
    out = bytearray()
    central = bytearray()
    for name, method, payload, checksum, length in entries:
        offset = len(out)
        fields = struct.pack("<HHHHHIII", 20, 0, method, 0, 0x21, checksum, len(payload), length)
        out += b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name + payload
        central += b"PK\x01\x02" + struct.pack("<H", 20) + fields
        central += struct.pack("<HHHHHI", len(name), 0, 0, 0, 0, 0) + struct.pack("<I", offset) + name
    end = struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + b"PK\x05\x06" + end)
