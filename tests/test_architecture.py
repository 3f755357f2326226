"""The core's structure: one direction of imports, no lazy sibling imports, small modules, a quiet command line."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "gin_core"
MAX_LINES = 400


def core_files() -> list[Path]:
    """The core's modules (the book's helpers in gin_core/book are not the core)."""
    return sorted(p for p in CORE.rglob("*.py") if "book" not in p.relative_to(CORE).parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sibling_imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported core module, inside a function?)`` for every import of the core in ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    modules = {module_name(p) for p in core_files()}
    tree = ast.parse(path.read_text())
    inner = {
        id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(f)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
            base = f"{base}.{node.module}" if node.module else base
            targets = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules] or [base]
        elif isinstance(node, ast.ImportFrom):
            targets = [node.module] if node.module in modules else []
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name in modules]
        else:
            continue
        found += [(t, id(node) in inner) for t in targets if t in modules and t not in (name, "gin_core")]
    return found


def test_the_core_imports_in_one_direction_and_never_lazily():
    edges = {module_name(p): {t for t, _ in sibling_imports(p)} for p in core_files()}
    lazy = [f"{module_name(p)} -> {t}" for p in core_files() for t, inside in sibling_imports(p) if inside]
    assert not lazy, f"imports of sibling modules inside functions: {lazy}"
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges.get(node, ()):
            assert state.get(nxt) != 1, f"import circle: {' -> '.join(path + [nxt])}"
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in edges:
        if node not in state:
            visit(node, [node])
    assert edges["gin_core.loss"] <= {"gin_core._checks", "gin_core.distributions"}  # the loss depends on no model


def test_the_checker_finds_a_circle_and_a_lazy_import(tmp_path, monkeypatch):
    """The structure test can fail: two modules that import each other, one of them lazily."""
    package = tmp_path / "gin_core"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import g\n")
    (package / "b.py").write_text("def g():\n    from .a import g\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "CORE", package)
    assert sibling_imports(package / "b.py") == [("gin_core.a", True)]
    with pytest.raises(AssertionError, match="inside functions"):
        test_the_core_imports_in_one_direction_and_never_lazily()


def test_every_core_module_is_small():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in core_files()}
    assert max(sizes.values()) < MAX_LINES, {k: v for k, v in sizes.items() if v >= MAX_LINES}


def test_the_command_line_prints_no_warning():
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "gin_core.training", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.startswith("usage: python -m gin_core.training")


def book_files() -> list[Path]:
    """The book's helper modules (gin_core/book)."""
    return sorted((CORE / "book").glob("*.py"))


def book_imports(path: Path) -> set[str]:
    """The book modules that ``path`` imports (``from .x import``, ``from . import x``), at any depth of the code."""
    modules = {p.stem for p in book_files()}
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
            found |= {n for n in names if n in modules and n != path.stem}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gin_core.book."):
            found.add(node.module.split(".")[2])
    return found


def test_the_book_helpers_import_each_other_without_a_circle():
    edges = {p.stem: book_imports(p) for p in book_files()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            assert state.get(nxt) != 1, f"import circle in gin_core/book: {' -> '.join(path + [nxt])}"
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in edges:
        if node not in state:
            visit(node, [node])
    assert "runs" in edges["restarts"] and "records" in edges["runs"]  # the checker reads the real imports
    assert not edges["records"] & {"runs", "restarts", "recovery"}  # the records know no run


def test_the_book_circle_checker_finds_a_lazy_circle(tmp_path, monkeypatch):
    """A circle closed by an import inside a function is still a circle."""
    book = tmp_path / "gin_core" / "book"
    book.mkdir(parents=True)
    (book / "a.py").write_text("from .b import g\n")
    (book / "b.py").write_text("def g():\n    from .a import f\n")
    monkeypatch.setattr(sys.modules[__name__], "CORE", tmp_path / "gin_core")
    assert book_imports(book / "b.py") == {"a"}
    with pytest.raises(AssertionError, match="import circle in gin_core/book: a -> b -> a"):
        test_the_book_helpers_import_each_other_without_a_circle()
