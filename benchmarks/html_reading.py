"""HTML reading time per MB at growing sizes, as ratios to the smallest: linear reading keeps them near 1.

    .venv/bin/python benchmarks/html_reading.py          # nested <div>, <table> and tiny inline tags

Each page shape is read (`load_document`: parse, text, cleaning) at four sizes, each four times the
last; the line gives seconds per MB of the smallest and every size's seconds per MB over it. Before
issue 22 deeply nested pages took time quadratic in their size (0.12 MB 3 s, 0.48 MB 50 s, 1.2 MB
348 s): their ratios then grew fourfold from size to size.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vectorstore.ingest.loaders import load_document

SHAPES: dict[str, Callable[[int], str]] = {
    "nested div": lambda n: "<div>x " * n + "</div>" * n,
    "nested table": lambda n: "<table><tr><td>x " * n,
    "tiny inline tags": lambda n: "<p>" + "<b>w</b> " * n + "</p>",
}
SIZES = (2_500, 10_000, 40_000, 160_000)  # the largest within MAX_HTML_TAGS


def seconds_per_mb(page: str, folder: Path) -> float:
    path = folder / "page.html"
    path.write_text(page, encoding="utf-8")
    started = time.perf_counter()
    load_document(path, folder, 1 << 30)
    return (time.perf_counter() - started) / (path.stat().st_size / 1e6)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, shape in SHAPES.items():
            per_mb = [seconds_per_mb(shape(n), Path(tmp)) for n in SIZES]
            sizes = ", ".join(f"{len(shape(n).encode()) / 1e6:.2f} MB" for n in SIZES)
            ratios = " ".join(f"{t / per_mb[0]:.2f}x" for t in per_mb)
            print(f"{name}: {per_mb[0]:.2f} s/MB at the smallest; per-MB time at {sizes}: {ratios}")


if __name__ == "__main__":
    main()
