"""A new database is built from the ORM tables and stamped, not migrated: it must come out the
same as one that replayed every migration, down to columns, defaults, keys, indexes, checks and
the revision row."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tastydesk.engine.store.database import (
    create_fresh,
    create_sqlite_engine,
    current_revision,
    head_revision,
    migrate,
)
from tastydesk.engine.store.service import Store

CLAUSE = re.compile(r"CONSTRAINT\s+\w+\s+.*")


def _constraints(sql: str) -> set[str]:
    """The table's named constraint clauses, whitespace normalised (their order in the CREATE
    statement differs between a rebuilt table and a created one, which SQLite ignores)."""
    body = sql[sql.index("(") + 1:sql.rindex(")")]
    parts = [" ".join(p.split()) for p in re.split(r",\s*\n", body)]
    return {p for p in parts if CLAUSE.fullmatch(p)}


def schema(path: Path) -> dict[str, Any]:
    """Everything SQLite knows of the schema, in a form that ignores only the order of
    constraint clauses, whitespace and the generated names of automatic indexes."""
    raw = sqlite3.connect(path)
    try:
        facts: dict[str, Any] = {"user_version": raw.execute("PRAGMA user_version").fetchone(),
                                 "revision": raw.execute(
                                     "SELECT version_num FROM alembic_version").fetchall()}
        objects = raw.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                              "ORDER BY type, name").fetchall()
        for kind, name, table, sql in objects:
            if kind == "index" and name.startswith("sqlite_autoindex_"):
                continue  # covered by index_list below, by columns
            if kind != "table":
                facts[f"{kind}:{name}"] = (table, " ".join((sql or "").split()))
                continue
            indexes = []
            for _seq, index, unique, origin, partial in raw.execute(
                    f"PRAGMA index_list('{name}')"):
                columns = [r[2] for r in raw.execute(f"PRAGMA index_xinfo('{index}')") if r[5]]
                label = None if index.startswith("sqlite_autoindex_") else index
                indexes.append((label, unique, origin, partial, tuple(columns)))
            facts[f"table:{name}"] = {
                "columns": raw.execute(f"PRAGMA table_xinfo('{name}')").fetchall(),
                "foreign_keys": sorted(r[2:] for r in raw.execute(
                    f"PRAGMA foreign_key_list('{name}')")),
                "indexes": sorted(indexes, key=repr),
                "constraints": _constraints(sql),
            }
        return facts
    finally:
        raw.close()


def test_a_created_database_has_the_schema_the_migrations_build(tmp_path: Path) -> None:
    migrated = create_sqlite_engine(tmp_path / "migrated.db")
    assert migrate(migrated, "0001_initial")
    assert migrate(migrated)  # every later migration, replayed by Alembic
    migrated.dispose()
    created = create_sqlite_engine(tmp_path / "created.db")
    assert migrate(created)  # a new file: built from the ORM tables and stamped
    assert current_revision(created) == head_revision()
    created.dispose()

    want, got = schema(tmp_path / "migrated.db"), schema(tmp_path / "created.db")
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key
    assert sum(1 for k in want if k.startswith("table:")) >= 15
    assert any(want[k]["constraints"] for k in want if k.startswith("table:"))


def test_a_file_that_holds_anything_is_not_created_over(tmp_path: Path) -> None:
    engine = create_sqlite_engine(tmp_path / "other.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (body TEXT)"))
    assert create_fresh(engine, "0006_lifecycle_events") is False
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM sqlite_master")).scalars().all()
    engine.dispose()
    assert names == ["notes"]


def opening_imports_alembic(path: Path) -> bool:
    """Whether opening the store at ``path`` in a fresh interpreter imports Alembic."""
    code = ("import sys\nfrom pathlib import Path\n"
            "from tastydesk.engine.store.service import Store\n"
            f"Store.open(Path({str(path)!r})).close()\n"
            "print('alembic' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.strip() == "True"


def test_a_new_database_opens_without_importing_alembic(tmp_path: Path) -> None:
    assert not opening_imports_alembic(tmp_path / "app.db")
    with Store.open(tmp_path / "app.db") as store:  # a usable store: defaults installed
        assert store.list_strategies()
