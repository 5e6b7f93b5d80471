"""Opening the SQLite file: durability settings, write transactions, migrations.

* WAL with ``synchronous=FULL``: a committed transition survives a crash or power loss, and
  readers never block the writer.
* pysqlite's implicit transaction handling is switched off and every transaction starts with
  ``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe), so a write takes the lock up front instead
  of failing with SQLITE_BUSY when a read upgrades. Connections marked read-only begin DEFERRED.
* Migrations run with ``PRAGMA foreign_keys=OFF`` (set before Alembic opens its transaction;
  the pragma is ignored inside one), because a batch migration rebuilds a table by copy, drop and
  rename, and with foreign keys on, dropping the old table cascades into its children.
  ``foreign_key_check`` and ``integrity_check`` must both pass afterwards.
* Alembic is imported only when a migration has to run: opening a database already at the
  newest revision reads the revision with one query and compares it with the newest one named
  in the migration scripts (most starts need no migration, and importing Alembic costs the
  window most of a second). A new, empty file gets the newest schema from the ORM tables in
  one transaction, stamped with the newest revision (:func:`create_fresh`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session

from tastydesk.engine.schema_revisions import MIGRATIONS_DIR, head_revision
from tastydesk.engine.store.errors import MigrationError, StoreError

if TYPE_CHECKING:
    from alembic.config import Config

BUSY_TIMEOUT_MS = 5000
READ_ONLY = "tastydesk_read_only"


def create_sqlite_engine(path: Path, synchronous: str = "FULL") -> Engine:
    """An engine on ``path`` with the durability pragmas and BEGIN IMMEDIATE transactions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        pool_size=4,
        max_overflow=4,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        dbapi_conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute(f"PRAGMA synchronous={synchronous}")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def open_read_only(path: Path) -> Engine:
    """An engine on ``path`` that cannot write it, create it or migrate it.

    SQLite's read-only URI: ``mode=ro``, and ``immutable=1`` as well when no write-ahead log is
    left beside the file (a clean close), so not even the ``-wal`` / ``-shm`` files appear. A
    log left by a crash holds committed transactions, so it is read (``mode=ro`` only; SQLite
    then maps the log's index). ``immutable`` is sound only while nobody writes the file: the
    app keeps the account's writer lock while it shows it read-only, so no writer can start
    beside it. The schema must be at this tastydesk's newest revision: older
    files need the migration a normal open runs. Raises :class:`StoreError` naming the file.
    """
    path = Path(path).resolve()
    if not path.is_file() or path.stat().st_size == 0:
        raise StoreError(f"{path}: no database to open read-only (missing or empty)")
    logged = Path(f"{path}-wal").exists()
    uri = f"{path.as_uri()}?mode=ro" + ("" if logged else "&immutable=1")

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)

    engine = create_engine(f"sqlite:///{path}", creator=connect, pool_size=4, max_overflow=4)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    try:
        revision = current_revision(engine)
    except Exception as exc:
        engine.dispose()
        raise StoreError(f"{path}: cannot be read ({exc})") from exc
    head = head_revision()
    if revision != head:
        engine.dispose()
        raise StoreError(f"{path}: at schema revision {revision}, while this tastydesk reads "
                         f"{head}; it opens read-only only at that revision")
    return engine


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def stored_revision(engine: Engine) -> str | None:
    """The database's revision by one query (None for a new database)."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        if raw.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                       "AND name = 'alembic_version'").fetchone() is None:
            return None
        rows = raw.execute("SELECT version_num FROM alembic_version").fetchall()
        conn.rollback()
    return rows[0][0] if len(rows) == 1 else None


def migrate(engine: Engine, revision: str = "head") -> bool:
    """Upgrade the schema to ``revision`` with foreign keys off; True when anything ran.

    After a migration the database must pass SQLite's checks with no problem it did not already
    have; otherwise :class:`MigrationError` is raised (and the transaction was rolled back).
    """
    head = head_revision()
    if revision == "head" and head is not None:
        stored = stored_revision(engine)
        if stored == head:
            return False  # the usual start: nothing to migrate, no Alembic to import
        if stored is None and create_fresh(engine, head):
            return True  # a new file: the schema built at once, no Alembic to import
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
        wanted = script.get_revision(revision)
        if wanted is not None and current == wanted.revision:
            return False
        raw = conn.connection.driver_connection
        assert raw is not None
        before = set(check_database(raw))
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            command.upgrade(alembic_config(conn), revision)
            new_problems = set(check_database(raw)) - before
            if new_problems:
                raise MigrationError("database failed its checks after migrating to "
                                     f"{revision}: {'; '.join(sorted(new_problems))}")
            conn.commit()
        finally:
            if conn.in_transaction():
                conn.rollback()
            raw.execute("PRAGMA foreign_keys=ON")
    return True


def create_fresh(engine: Engine, head: str) -> bool:
    """Give a database with nothing in it the newest schema in one transaction, built from the
    ORM tables, and record ``head`` as its revision (what ``alembic stamp`` writes). False,
    changing nothing, when the file already holds anything (an older file is migrated).

    Replaying every migration on a new file imports Alembic and rebuilds tables by copy; the
    result is the same schema (a test compares the two, table by table), so a first start
    skips it.
    """
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table

    from tastydesk.engine.store.models import Base

    version = Table("alembic_version", MetaData(),  # Alembic's own version table, as it makes it
                    Column("version_num", String(32), nullable=False),
                    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))
    with engine.begin() as conn:  # BEGIN IMMEDIATE: no other writer between look and create
        if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
            return False
        Base.metadata.create_all(conn)
        version.create(conn)
        conn.execute(version.insert().values(version_num=head))
    return True


def check_database(raw: sqlite3.Connection) -> list[str]:
    """SQLite's own checks: page integrity and dangling foreign keys. ``[]`` when fine."""
    problems = [f"integrity: {row[0]}" for row in raw.execute("PRAGMA integrity_check")
                if row[0] != "ok"]
    problems += [f"foreign key: {table} row {rowid} -> {parent}"
                 for table, rowid, parent, _ in raw.execute("PRAGMA foreign_key_check")]
    return problems


def open_database(path: Path, synchronous: str = "FULL") -> Engine:
    """Create or open ``path`` and bring it to the newest schema.

    ``synchronous="NORMAL"`` (headless simulation) keeps WAL's guarantee that a killed process
    loses no committed transaction; only an operating-system crash or power loss may drop the
    last few. The desktop keeps FULL.
    """
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"synchronous: must be FULL or NORMAL, got {synchronous!r}")
    engine = create_sqlite_engine(path, synchronous)
    try:
        migrate(engine)
    except Exception:
        engine.dispose()
        raise
    return engine


class Database:
    """One open SQLite file, shared by every repository of a store.

    It holds the ORM engine (a pooled connection per transaction), a read-only view of it whose
    transactions begin DEFERRED, and one raw connection reserved for the hot path. Writers are
    serialised by one re-entrant lock, so the hot path and the ORM never contend for SQLite's
    write lock; readers never take it (WAL lets them run beside a writer).
    """

    def __init__(self, path: Path, synchronous: str = "FULL", read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only  # every write then fails: SQLite refuses it
        self._engine: Engine = (open_read_only(self.path) if read_only
                                else open_database(self.path, synchronous))
        self._reader: Engine = self._engine.execution_options(**{READ_ONLY: True})
        self._lock = threading.RLock()
        self._closed = False
        self._hot: Any = self._engine.raw_connection()  # pooled, pragmas applied on connect

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._hot.close()
                self._engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """An ORM session in one BEGIN IMMEDIATE transaction, committed on exit."""
        with self._lock, Session(self._engine, expire_on_commit=False) as session, \
                session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """An ORM session on a read-only (DEFERRED) transaction."""
        with Session(self._reader, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def raw_write(self) -> Iterator[sqlite3.Connection]:
        """The hot-path connection in its own BEGIN IMMEDIATE transaction, committed on exit."""
        with self._lock:
            if self._closed:
                raise StoreError(f"store {self.path} is closed")
            raw: sqlite3.Connection = self._hot.driver_connection
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield raw
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")

    @contextmanager
    def raw_read(self) -> Iterator[sqlite3.Connection]:
        """A pooled plain connection on a read-only transaction, rolled back on exit."""
        with self._reader.connect() as conn:
            conn.begin()
            raw = conn.connection.driver_connection
            assert raw is not None
            yield raw
            conn.rollback()
