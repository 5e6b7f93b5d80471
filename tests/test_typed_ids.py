"""Identifiers cross every component boundary typed: a workflow id is never a bare int.

``WorkflowId``, ``ProposalId``, ``ExternalOrderId`` and ``BrokerOrderId`` (domain/ids.py) only
help if every signature says which one it takes: a parameter, dataclass field or attribute named
like an id, and a function returning one, must be annotated with its type, so a proposal id
handed where a workflow id is expected shows in review and to a type checker. Raw values are
wrapped once where they enter (a broker payload, a database row, a CLI argument, a Qt model).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = (ROOT / "tastydesk" / "engine", ROOT / "tastydesk" / "ui", ROOT / "tastydesk" / "commands",
           ROOT / "tastydesk" / "benchmarks")

# Name (singular; plural "<name>s" holds several) -> the type its annotation must use.
ID_TYPES = {
    "workflow_id": "WorkflowId",
    "wf_id": "WorkflowId",
    "proposal_id": "ProposalId",
    "external_id": "ExternalOrderId",
    "broker_order_id": "BrokerOrderId",
    "order_id": "BrokerOrderId",
    "replaces_order_id": "BrokerOrderId",
    "replacing_order_id": "BrokerOrderId",
}
BARE = frozenset({"int", "str"})
# The schema as ORM classes: its columns are the database's plain types, and its rows never
# leave the store, which wraps ids as it turns rows into records.
SCHEMA = ROOT / "tastydesk" / "engine" / "store" / "models.py"
# Our orders table's own row key (order events and fills point at it) is a plain int named
# ``order_id``, like every other ``id`` column; the broker's order id is always a str.
ROW_KEYS = frozenset({"order_id"})


def _expected(name: str) -> str | None:
    name = name.lstrip("_")
    if name in ID_TYPES:
        return ID_TYPES[name]
    if name.endswith("s") and name[:-1] in ID_TYPES:
        return ID_TYPES[name[:-1]]
    return None


def _names(annotation: ast.expr) -> set[str]:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    return {n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(annotation) if isinstance(n, ast.Attribute)}


def _check(what: str, name: str, annotation: ast.expr | None) -> str | None:
    expected = _expected(name)
    if expected is None:
        return None
    if annotation is None:
        return f"{what} {name!r} has no annotation (expected {expected})"
    used = _names(annotation)
    if name.lstrip("_") in ROW_KEYS and ast.unparse(annotation) == "int":
        return None
    if expected not in used or used & BARE:
        return f"{what} {name!r} is annotated {ast.unparse(annotation)} (expected {expected})"
    return None


def _returns_id(func: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The id a function returns, judged by its name: ``external_id``, ``new_external_id``."""
    for name in ID_TYPES:
        if func.name.lstrip("_") == name or func.name.endswith("_" + name):
            return name
    return None


def violations(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    found: list[str] = []

    def report(line: int, problem: str | None) -> None:
        if problem:
            found.append(f"{filename}:{line}: {problem}")

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                if arg is not None:
                    report(arg.lineno, _check("parameter", arg.arg, arg.annotation))
            returned = _returns_id(node)
            if returned is not None:
                problem = _check("return of", returned, node.returns)
                report(node.lineno, problem and problem.replace(repr(returned), f"{node.name}()"))
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    report(stmt.lineno, _check("field", stmt.target.id, stmt.annotation))
        elif (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute)
              and isinstance(node.target.value, ast.Name) and node.target.value.id == "self"):
            report(node.lineno, _check("attribute", node.target.attr, node.annotation))
    return found


def test_every_id_in_engine_ui_and_commands_is_typed() -> None:
    files = sorted(p for d in SCANNED for p in d.rglob("*.py") if p != SCHEMA)
    assert len(files) > 100
    problems: list[str] = []
    for path in files:
        problems += violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("source", [
    "def f(workflow_id: int) -> None: ...",
    "async def f(*, proposal_id: int | None = None) -> None: ...",
    "def f(external_id: 'str') -> None: ...",
    "def f(order_id: str) -> None: ...",
    "def f(workflow_ids: tuple[int, ...]) -> None: ...",
    "def f(workflow_id) -> None: ...",
    "def f(workflow_id: ProposalId) -> None: ...",
    "def new_external_id(n: int) -> str: ...",
    "class R:\n    broker_order_id: str | None = None",
    "class R:\n    def __init__(self) -> None:\n        self._workflow_id: int = 0",
    "def f(workflow_id: WorkflowId | int) -> None: ...",
])
def test_the_checker_catches_each_form(source: str) -> None:
    assert violations(source, "x.py")


@pytest.mark.parametrize("source", [
    "def f(workflow_id: WorkflowId, proposal_id: ProposalId | None = None) -> None: ...",
    "def f(workflow_ids: tuple[WorkflowId, ...], external_id: ids.ExternalOrderId) -> None: ...",
    "def external_id(self) -> ExternalOrderId | None: ...",
    "class R:\n    order_id: BrokerOrderId\n    workflow: int\n    symbol: str",
    "def f(workflow: int, client_id: str, order: str) -> None: ...",
    "class FillRecord:\n    order_id: int",
])
def test_the_checker_allows_typed_ids_and_other_names(source: str) -> None:
    assert violations(source, "x.py") == []
