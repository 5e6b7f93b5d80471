"""The project's size and composition rules, read from the source with ``ast``.

No class over 400 lines, no module over 500 (migrations aside), and no mixins: a class named
``...Mixin`` or documented as mixed in. Each failure names the file, the class and the count.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tastydesk"
MIGRATIONS = PACKAGE / "engine" / "store" / "migrations"
MAX_CLASS_LINES = 400
MAX_MODULE_LINES = 500


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if MIGRATIONS not in p.parents)


def _classes(path: Path) -> list[ast.ClassDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_the_scan_sees_the_package() -> None:
    modules = _modules()
    assert len(modules) > 100 and PACKAGE / "engine" / "kernel.py" in modules
    assert not any(MIGRATIONS in p.parents for p in modules)


def test_no_module_over_500_lines() -> None:
    long = {_name(p): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_class_over_400_lines() -> None:
    long = {f"{_name(p)}:{c.name}": size for p in _modules() for c in _classes(p)
            if (size := (c.end_lineno or c.lineno) - c.lineno + 1) > MAX_CLASS_LINES}
    assert long == {}, f"classes over {MAX_CLASS_LINES} lines: {long}"


def _is_mixin(node: ast.ClassDef) -> bool:
    doc = (ast.get_docstring(node) or "").lower()
    return node.name.endswith("Mixin") or "mixed in" in doc or "mixin" in doc


def test_no_mixins() -> None:
    found = {f"{_name(p)}:{c.name}" for p in _modules() for c in _classes(p) if _is_mixin(c)}
    assert found == set(), f"mixins: {sorted(found)}"


def test_the_mixin_check_recognises_a_mixin() -> None:
    source = ('class PricingMixin:\n    pass\n'
              'class Columns:\n    """Mixed in to a model for its columns."""\n'
              'class Book:\n    """Owns the records."""\n')
    classes = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)]
    assert [c.name for c in classes if _is_mixin(c)] == ["PricingMixin", "Columns"]
