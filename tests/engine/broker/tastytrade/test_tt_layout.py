"""The adapter package stays small and split by concern (modules <= 500 lines, classes <= 400)."""

from __future__ import annotations

import ast
from pathlib import Path

import tastydesk.engine.broker.tastytrade as package

MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 400


def test_modules_and_classes_stay_within_their_size_limits():
    too_big = []
    for path in sorted(Path(package.__file__).parent.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            too_big.append(f"{path.name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    too_big.append(f"{path.name}: class {node.name} {size} lines")
    assert not too_big, too_big
