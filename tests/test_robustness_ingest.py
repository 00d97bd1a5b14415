"""`citeqa index` over a folder nobody curated: each bad file is one stderr line, the rest is indexed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import vectorstore.models.embedding
from qa.cli import main
from tests.fakes import FakeEmbedder
from tests.test_loaders import encrypted, text_pdf
from vectorstore import store
from vectorstore.settings import StoreSettings

GOOD = "Summit notes\n\nThe foreign ministers met in Bucharest. They discussed air defence for Ukraine.\n"
CP1252 = "Café-gesprek\n\nDe naïeve façade van het “akkoord” hield geen stand – zei de minister.\n"
HUNDRED_MB = 100 * 1024 * 1024


@pytest.fixture(autouse=True)
def _fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # cmd_index imports the embedder class from vectorstore.models.embedding when it runs.
    monkeypatch.setattr(
        vectorstore.models.embedding, "SentenceTransformerEmbedder", lambda *a, **kw: FakeEmbedder()
    )


def _index(paths: list[Path], index_dir: Path, capfd: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["index", *map(str, paths), "--index-dir", str(index_dir)])
    _, err = capfd.readouterr()
    # tqdm draws its bar on stderr too; the refusals are the lines that start with "skipped ".
    return code, [line for line in err.splitlines() if line.startswith("skipped ")]


def test_each_bad_file_is_one_line_and_the_rest_is_indexed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text(GOOD, encoding="utf-8")
    (docs / "legacy.txt").write_bytes(CP1252.encode("cp1252"))
    (docs / "empty.txt").write_bytes(b"")
    (docs / "noise.txt").write_bytes(os.urandom(4096))
    (docs / "fake.pdf").write_bytes(b"<html><body>I am not a PDF</body></html>")
    (docs / "locked.pdf").write_bytes(encrypted(text_pdf(["Geheim verslag."]), user_password="secret"))
    with (docs / "huge.txt").open("wb") as fh:  # sparse: 100 MB on paper, nothing on disk
        fh.truncate(HUNDRED_MB)
    outside = tmp_path / "secret.txt"
    outside.write_text("Private notes outside the collection.", encoding="utf-8")
    (docs / "link.txt").symlink_to(outside)
    (docs / "z-copy.txt").write_text(GOOD, encoding="utf-8")
    index_dir = tmp_path / "index"

    code, skipped = _index([docs], index_dir, capfd)

    assert code == 0
    limit = StoreSettings().max_file_bytes
    expected = {
        "empty.txt": "empty",
        "noise.txt": "not a text file",
        "fake.pdf": "not a PDF file",
        "locked.pdf": "encrypted PDF",
        "huge.txt": f"the limit is {limit:,}",
        "link.txt": "outside the collection",
        "z-copy.txt": "same text as good.txt",
    }
    assert len(skipped) == len(expected), skipped
    for name, why in expected.items():
        lines = [line for line in skipped if line.startswith(f"skipped {name}: ")]
        assert len(lines) == 1 and why in lines[0], (name, skipped)
    assert f"{HUNDRED_MB:,} bytes" in next(line for line in skipped if "huge.txt" in line)
    data = store.load(index_dir)
    assert set(data.documents) == {"good.txt", "legacy.txt"}
    legacy = data.documents["legacy.txt"].text
    assert "naïeve façade van het “akkoord” hield geen stand – zei" in legacy and "Ã" not in legacy
    assert not any("Private notes" in c.text for c in data.chunks)


def test_nothing_indexable_is_a_nonzero_exit(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "empty.txt").write_bytes(b"")
    (docs / "noise.txt").write_bytes(b"\x00\x01\x02" * 100)
    code, skipped = _index([docs], tmp_path / "index", capfd)
    assert code != 0
    assert [line.split(":")[0] for line in skipped] == ["skipped empty.txt", "skipped noise.txt"]


def test_web_uploads_land_only_in_the_uploads_folder(tmp_path: Path) -> None:
    from qa.settings import Settings
    from qa.web.collection import Collection, uploads_dir

    settings = Settings(
        cache_dir=tmp_path / "cache", index_dir=tmp_path / "index", store=StoreSettings(max_file_bytes=1000)
    )
    collection = Collection(settings, FakeEmbedder(), folders=[uploads_dir(settings)])
    # Names as a client may send them: only their last part counts.
    given = [
        ("sub/tool.exe", b"MZ\x90\x00"),
        ("sub/big.txt", b"x" * 1001),
        ("sub/ok.txt", GOOD.encode()),
        ("sub/../escape.md", b"# Escape\n\nA Markdown note.\n"),
    ]

    saved, refused = collection.save_uploads(given)

    assert [s.name for s in saved] == ["ok.txt", "escape.md"]
    assert refused == [
        "tool.exe: .exe files are not accepted; upload .txt, .md, .html, .htm, .pdf, .docx, .odt, .pptx, "
        ".epub, .eml, .mbox, .rtf, .png, .jpg, .jpeg, .tif, .tiff.",
        "big.txt: 0.0 MB is over the 0 MB limit.",
    ]
    uploads = uploads_dir(settings)
    assert sorted(p.name for p in uploads.iterdir()) == ["escape.md", "ok.txt"]
    assert not (tmp_path / "escape.md").exists() and not (uploads.parent / "escape.md").exists()
