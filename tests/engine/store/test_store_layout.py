"""The store's shape: Store, AsyncStore and the repositories agree; SQL comes from the models."""

from __future__ import annotations

import ast
import inspect
import sqlite3
import typing
from pathlib import Path

import pytest

from tastydesk.engine.store import tables
from tastydesk.engine.store.models import Base
from tastydesk.engine.store.repositories import Repositories
from tastydesk.engine.store.service import AsyncStore, Store

STORE_DIR = Path(tables.__file__).parent

# The public API every caller relies on; a method may move between repositories, never vanish.
PUBLIC = {
    "list_strategies", "get_strategy", "save_strategy", "delete_strategy",
    "restore_default_strategies", "is_builtin_strategy",
    "create_workflow", "create_workflows", "transition", "transition_many", "get_workflow",
    "list_workflows", "transitions", "update_workflow",
    "save_proposal", "get_proposal", "set_proposal_status", "record_decision", "decisions",
    "create_order_intent", "update_order", "get_order", "order_by_broker_id", "orders",
    "order_events", "order_events_by_order", "add_fill", "record_fills", "fills",
    "apply_position_fill", "positions",
    "book_lifecycle", "lifecycle_booked", "lifecycle_bookings", "last_lifecycle_time",
    "add_journal", "journal", "add_rule_action", "rule_actions", "record_metric", "metrics",
    "audit", "audit_log", "log_error", "errors", "get_config", "set_config", "integrity_check",
}
LIFECYCLE = {"open", "close"}


def _public(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if not n.startswith("_") and callable(v)}


def test_store_exposes_exactly_the_public_api() -> None:
    assert _public(Store) - LIFECYCLE == PUBLIC


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_async_store_has_a_typed_coroutine_for_each_store_method(name: str) -> None:
    sync, coro = getattr(Store, name), getattr(AsyncStore, name)
    assert inspect.iscoroutinefunction(coro)
    assert inspect.signature(coro) == inspect.signature(sync)


def test_async_store_has_no_catch_all() -> None:
    assert "__getattr__" not in vars(AsyncStore)
    assert _public(AsyncStore) == PUBLIC | {"run", "submit", "close"}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_store_method_delegates_to_one_repository_with_its_signature(name: str) -> None:
    repositories = typing.get_type_hints(Repositories).values()
    owners = [repo for repo in repositories if name in vars(repo)]
    assert len(owners) == 1, f"{name}: held by {owners}"
    assert inspect.signature(getattr(owners[0], name)) == inspect.signature(getattr(Store, name))


def test_derived_sql_matches_the_migrated_schema(tmp_path: Path) -> None:
    Store.open(tmp_path / "schema.db").close()
    raw = sqlite3.connect(tmp_path / "schema.db")
    try:
        for table in Base.metadata.sorted_tables:
            on_disk = {r[1] for r in raw.execute(f"PRAGMA table_info({table.name})")}
            assert on_disk == {c.name for c in table.c}, table.name
    finally:
        raw.close()
    derived = [v for v in vars(tables).values() if isinstance(v, tables.TableSql)]
    assert derived
    for sql in derived:
        table = Base.metadata.tables[sql.name]
        assert sql.columns == tuple(c.name for c in table.c)
        assert set(sql.insert_columns) == {c.name for c in table.c} - {"id"}


def test_update_refuses_a_column_the_table_does_not_have() -> None:
    with pytest.raises(ValueError, match="workflows has no column colour"):
        tables.WORKFLOWS.update(("state", "colour"), "id=?")


def _store_modules() -> list[Path]:
    return sorted(p for p in STORE_DIR.glob("*.py"))


def test_store_imports_no_workflow_code() -> None:
    for path in _store_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith("tastydesk.engine.workflow"), f"{path.name}: {name}"


def test_modules_and_classes_stay_small() -> None:
    for path in _store_modules():
        text = path.read_text()
        assert len(text.splitlines()) < 500, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                assert node.end_lineno is not None
                assert node.end_lineno - node.lineno < 400, f"{path.name}: {node.name}"


def test_insert_values_are_given_by_column_name() -> None:
    row = tables.RULE_ACTIONS.params(workflow_id=1, rule_type="stop", action="close",
                                     detail="", status="sent", time="t")
    assert row == (1, "stop", "close", "", "sent", "t")
    with pytest.raises(TypeError, match="time"):
        tables.RULE_ACTIONS.params(workflow_id=1, rule_type="stop", action="close", detail="",
                                   status="sent")
    with pytest.raises(TypeError, match="colour"):
        tables.RULE_ACTIONS.params(workflow_id=1, rule_type="stop", action="close", detail="",
                                   status="sent", time="t", colour="red")
