"""The folders show the pipeline: small modules, and no stage importing a later one."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400

# The order a question travels (and an index is made); a module may import its own rank or lower.
# Unlisted top-level modules of a package take the package's rank of its top (`qa` 9, `vectorstore` 4).
RANKS = {
    "vectorstore.errors": 0,
    "vectorstore.settings": 0,
    "vectorstore.types": 0,
    "vectorstore.ingest": 1,
    "vectorstore.models": 1,
    "vectorstore.store": 2,
    "vectorstore.index_data": 2,
    "vectorstore.features": 2,
    "vectorstore.vocabulary": 2,
    "vectorstore.texts": 2,
    "vectorstore.sentence_rows": 2,
    "vectorstore.vector_rows": 2,
    "vectorstore.faiss_index": 2,
    "vectorstore.build_lock": 2,
    "vectorstore.generations": 2,
    "vectorstore.index_folder": 2,
    "vectorstore.sources": 2,
    "vectorstore.changes": 2,
    "vectorstore.indexer": 3,
    "vectorstore.stores": 4,
    "qa.settings": 10,
    "qa.types": 10,
    "qa.prompts": 10,
    "qa.retrieve": 11,
    "qa.compose": 12,
    "qa.engine": 13,
    "qa.generate": 14,
    "qa.pipeline": 15,
    "qa.conversation": 15,  # wraps the pipeline (which hands it a question asked with history)
    "qa.backend": 16,
    "qa.evaluate": 17,
    "qa.web": 17,
    "qa.adapters": 17,
    "qa.commands": 17,
    "qa.cli": 18,
}


def rank(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in RANKS:
            return RANKS[".".join(parts[:n])]
    raise AssertionError(f"{module} has no place in RANKS: add it where it belongs in the pipeline")


def modules() -> dict[str, Path]:
    found = {}
    for package in ("qa", "vectorstore"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, module: str) -> set[str]:
    """The project modules `path` imports, at the top or inside a function."""
    found = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + [base]
                ).strip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    known = modules()
    return {name for name in found if name in known and name not in ("qa", "vectorstore")}


def test_no_module_is_longer_than_400_lines() -> None:
    long = {
        name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_stage_imports_a_later_one() -> None:
    upward = []
    for name, path in modules().items():
        if name in ("qa", "vectorstore"):  # a package's front door re-exports its top
            continue
        for imported in imports(path, name):
            if rank(imported) > rank(name):
                upward.append(f"{name} ({rank(name)}) imports {imported} ({rank(imported)})")
    assert upward == []


def test_the_index_side_never_imports_the_answering_side() -> None:
    crossing = [
        n
        for n, p in modules().items()
        if n.startswith("vectorstore") and any(i.startswith("qa") for i in imports(p, n))
    ]
    assert crossing == []


def test_every_subpackage_says_what_comes_in_and_what_goes_out() -> None:
    for name, path in modules().items():
        if path.name == "__init__.py" and name.count(".") == 1:
            doc = ast.get_docstring(ast.parse(path.read_text()))
            assert doc and " in" in doc and " out" in doc, name
