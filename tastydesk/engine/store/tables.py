"""Plain SQL for the hot path, derived once at import from the ORM tables in :mod:`models`.

The ORM classes are the only place the schema is written down. The repositories that run
thousands of statements a second use plain ``sqlite3`` for speed, but every column list they
send (SELECT, INSERT) comes from ``Table.c`` here, and every column they SET is checked against
it, so a column added to a model can never be silently missing from the SQL.

Insert values are passed by column name to :meth:`TableSql.params`, a keyword-only builder
generated from the columns (as ``namedtuple`` builds its constructor): a value the caller forgot
or misnamed fails loudly (``TypeError``) instead of shifting the others by one, and SQLite still
binds a plain positional tuple, the cheapest form on the hot path.
"""

from __future__ import annotations

import keyword
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, select

from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.store.database import Database
from tastydesk.engine.store.errors import NotFound
from tastydesk.engine.store.models import (
    Base,
    DecisionRow,
    FillRow,
    OrderEventRow,
    OrderRow,
    PositionRow,
    ProposalRow,
    RuleActionRow,
    TransitionRow,
    WorkflowRow,
)
from tastydesk.engine.store.types import decode_datetime

R = TypeVar("R")


@dataclass(frozen=True)
class TableSql:
    """The statements for one table, built from its SQLAlchemy ``Table``.

    ``values(row)`` turns a row selected with :attr:`select` into a named tuple, so readers
    address columns by name rather than by a position typed by hand.
    """

    name: str
    columns: tuple[str, ...]
    insert_columns: tuple[str, ...]
    select: str
    insert: str
    values: Callable[[Iterable[Any]], Any]
    params: Callable[..., tuple[Any, ...]]

    @classmethod
    def of(cls, model: type[Base]) -> TableSql:
        table = cast(Table, model.__table__)
        columns = tuple(c.name for c in table.c)
        auto = table.autoincrement_column
        inserted = tuple(c for c in columns if auto is None or c != auto.name)
        return cls(
            name=table.name,
            columns=columns,
            insert_columns=inserted,
            select=f"SELECT {', '.join(columns)} FROM {table.name}",
            insert=(f"INSERT INTO {table.name} ({', '.join(inserted)}) "
                    f"VALUES ({', '.join('?' * len(inserted))})"),
            values=namedtuple(f"{model.__name__}Values", columns)._make,  # type: ignore[misc]
            params=_params_builder(inserted),
        )

    def where(self, condition: str) -> str:
        """``SELECT <all columns> FROM <table> WHERE <condition>``."""
        return f"{self.select} WHERE {condition}"

    def pick(self, columns: Iterable[str], rest: str = "") -> str:
        """``SELECT c1, c2 FROM <table> <rest>`` for a few columns; every column must exist."""
        return f"SELECT {', '.join(self._known(columns))} FROM {self.name} {rest}".rstrip()

    def update(self, columns: Iterable[str], where: str) -> str:
        """``UPDATE <table> SET c1=?, c2=? WHERE <where>``; every column must exist."""
        names = self._known(columns)
        return f"UPDATE {self.name} SET {', '.join(f'{c}=?' for c in names)} WHERE {where}"

    def _known(self, columns: Iterable[str]) -> tuple[str, ...]:
        names = tuple(columns)
        unknown = [c for c in names if c not in self.columns]
        if unknown:
            raise ValueError(f"{self.name} has no column {', '.join(unknown)}")
        return names


def _params_builder(columns: tuple[str, ...]) -> Callable[..., tuple[Any, ...]]:
    """``f(*, c1, c2, ...) -> (c1, c2, ...)``: insert values by name, bound by position."""
    for name in columns:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"column {name!r} cannot be a parameter name")
    names = ", ".join(columns)
    namespace: dict[str, Any] = {}
    exec(f"def params(*, {names}):\n    return ({names},)", namespace)
    return namespace["params"]  # type: ignore[no-any-return]


WORKFLOWS = TableSql.of(WorkflowRow)
TRANSITION_LOG = TableSql.of(TransitionRow)
PROPOSALS = TableSql.of(ProposalRow)
DECISIONS = TableSql.of(DecisionRow)
ORDERS = TableSql.of(OrderRow)
ORDER_EVENTS = TableSql.of(OrderEventRow)
FILLS = TableSql.of(FillRow)
POSITIONS = TableSql.of(PositionRow)
RULE_ACTIONS = TableSql.of(RuleActionRow)


def decode_time(text: str) -> datetime:
    """A NOT NULL time column."""
    value = decode_datetime(text)
    assert value is not None
    return value


def require_aware(name: str, value: object) -> None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


_WORKFLOW_EXISTS = WORKFLOWS.pick(("id",), "WHERE id=?")


def require_workflow(raw: sqlite3.Connection, workflow_id: WorkflowId) -> None:
    if raw.execute(_WORKFLOW_EXISTS, (workflow_id,)).fetchone() is None:
        raise NotFound(f"workflow {workflow_id} does not exist")


def recent_rows(db: Database, model: type[Any], convert: Callable[[Any], R],
                limit: int | None) -> list[R]:
    """The newest ``limit`` rows of a log table (all when None), oldest first."""
    stmt = select(model).order_by(model.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    with db.read() as s:
        return [convert(r) for r in reversed(s.scalars(stmt).all())]
