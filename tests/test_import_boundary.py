"""The engine must never import Qt, pyqtgraph, qasync or the UI, directly or lazily."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "tastydesk" / "engine"
FORBIDDEN = ("PySide6", "pyqtgraph", "qasync", "tastydesk.ui", "shiboken6")


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Name) and node.func.id == "__import__")
                   or (isinstance(node.func, ast.Attribute)
                       and node.func.attr == "import_module"))):
            found.append((node.lineno, node.args[0].value))
    return found


def _violations(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    return [f"{filename}:{line}: imports {name}" for line, name in _imports(tree)
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]


def test_engine_sources_import_no_gui() -> None:
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) > 20
    problems = []
    for path in files:
        problems += _violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert problems == []


@pytest.mark.parametrize("source", [
    "import PySide6", "from PySide6.QtCore import Qt", "import pyqtgraph as pg",
    "def f():\n    import qasync", "from tastydesk.ui import main_window",
    "import importlib\nimportlib.import_module('tastydesk.ui.docks')", "__import__('PySide6')",
])
def test_the_checker_catches_each_form(source: str) -> None:
    assert _violations(source, "x.py")


def test_the_checker_allows_lookalikes() -> None:
    assert _violations("import tastydesk.uix\nfrom tastydesk.engine import bus", "x.py") == []


def test_import_linter_contract() -> None:
    lint = (shutil.which("lint-imports", path=str(ROOT / ".venv" / "bin"))
            or shutil.which("lint-imports", path=str(Path(sys.executable).parent))
            or shutil.which("lint-imports"))
    if lint is None:
        pytest.skip("lint-imports is not installed")
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert "engine is Qt-free KEPT" in result.stdout, result.stdout + result.stderr
    # Every layer contract in pyproject.toml holds (UI through the facade, the domain at the
    # core, persistence free of workflow code, adapters independent).
    assert result.returncode == 0 and " 0 broken" in result.stdout, result.stdout + result.stderr
