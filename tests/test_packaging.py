"""The wheel a user installs holds every module of the source tree (not only an editable checkout)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_every_module_of_qa_and_vectorstore(tmp_path: Path) -> None:
    # A copy, so no build/ folder left in the checkout by an earlier build can stand in for the packaging.
    src = tmp_path / "src"
    for name in ("qa", "vectorstore"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("citeqa-*.whl")
    packed = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    source = {p.relative_to(ROOT).as_posix() for d in ("qa", "vectorstore") for p in (ROOT / d).rglob("*.py")}
    assert source - packed == set()
