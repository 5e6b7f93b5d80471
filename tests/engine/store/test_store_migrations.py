from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine

from tastydesk.engine.domain.enums import Actor, OrderPurpose, OrderStatus, Trigger
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.store.database import (
    alembic_config,
    create_sqlite_engine,
    current_revision,
    migrate,
)
from tastydesk.engine.store.service import Store
from tests.engine.store.test_store_fresh_schema import opening_imports_alembic

WHEN = "2026-01-05T15:30:00.000000+00:00"


def _seed(engine: Engine) -> None:
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.executescript(f"""
            BEGIN;
            INSERT INTO workflows (id, symbol, state, version, created_at, updated_at,
                rules_paused, rule_overrides) VALUES (1, 'SPY', 'EVALUATING', 2, '{WHEN}',
                '{WHEN}', 0, '{{}}');
            INSERT INTO workflow_transitions (workflow_id, seq, from_state, to_state, trigger,
                actor, reason, payload, time) VALUES
                (1, 1, NULL, 'SCANNING', NULL, 'engine', 'new', '{{}}', '{WHEN}'),
                (1, 2, 'SCANNING', 'EVALUATING', 'scan', 'engine', 'scan', '{{}}', '{WHEN}');
            INSERT INTO proposals (id, workflow_id, body, status, created_at)
                VALUES (1, 1, '{{}}', 'pending', '{WHEN}');
            INSERT INTO orders (id, workflow_id, proposal_id, purpose, external_id, status,
                underlying, price, quantity, filled_quantity, attempt, legs, created_at,
                updated_at) VALUES (1, 1, 1, 'open', 'td-1', 'FILLED', 'SPY', '0.35', 2, 2, 0,
                '[]', '{WHEN}', '{WHEN}');
            INSERT INTO order_events (order_id, status, detail, time) VALUES
                (1, 'PENDING_SUBMIT', '', '{WHEN}'), (1, 'FILLED', '', '{WHEN}');
            INSERT INTO fills (fill_id, order_id, workflow_id, symbol, action, quantity, price,
                time) VALUES ('F1', 1, 1, 'X', 'Sell to Open', 2, '1.45', '{WHEN}'),
                ('F2', 1, 1, 'Y', 'Buy to Open', 2, '1.10', '{WHEN}');
            COMMIT;
        """)


def _counts(path: Path) -> dict[str, int]:
    raw = sqlite3.connect(path)
    try:
        return {t: raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("workflows", "workflow_transitions", "orders", "order_events", "fills")}
    finally:
        raw.close()


def test_upgrade_keeps_data_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_sqlite_engine(path)
    assert migrate(engine, "0001_initial") is True
    assert current_revision(engine) == "0001_initial"
    _seed(engine)
    before = _counts(path)
    assert migrate(engine) is True
    assert current_revision(engine) == "0006_lifecycle_events"
    assert migrate(engine) is False
    engine.dispose()
    assert _counts(path) == before == {"workflows": 1, "workflow_transitions": 2, "orders": 1,
                                       "order_events": 2, "fills": 2}
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    indexes = {r[1] for r in raw.execute("PRAGMA index_list(orders)")}
    assert "ix_orders_broker_order_id" in indexes
    with pytest.raises(sqlite3.IntegrityError, match="quantity_positive"):
        raw.execute("INSERT INTO orders (workflow_id, purpose, external_id, status, underlying, "
                    "price, quantity, filled_quantity, attempt, legs, created_at, updated_at) "
                    f"VALUES (1, 'open', 'q0', 'WORKING', 'SPY', '1', 0, 0, 1, '[]', '{WHEN}', "
                    f"'{WHEN}')")
    raw.close()
    with Store.open(path) as store:
        assert store.integrity_check() == []
        assert store.get_workflow(1).state.value == "EVALUATING"
        assert [e.status for e in store.order_events("td-1")] == [
            OrderStatus.PENDING_SUBMIT, OrderStatus.FILLED]
        assert {f.fill_id for f in store.fills(1)} == {"F1", "F2"}
        moved = store.transition(1, Trigger.NO_CANDIDATE, Actor.ENGINE, "after upgrade",
                                 store.get_workflow(1).updated_at)
        assert moved.version == 3
        order = store.get_order("td-1")
        assert order is not None and order.purpose is OrderPurpose.OPEN
        assert order.fees is None  # written before fees were kept: the journal estimates them
        assert order.time_in_force is TimeInForce.DAY  # the only kind before it was kept
        later = store.update_order("td-1", OrderStatus.FILLED, order.updated_at,
                                   fees=Decimal("4.00"))
        assert later.fees == Decimal("4.00") == store.get_order("td-1").fees


def test_the_same_rebuild_with_foreign_keys_on_would_lose_child_rows(tmp_path: Path) -> None:
    """Why the runner turns foreign keys off: rebuilding orders cascades into its children."""
    path = tmp_path / "hazard.db"
    engine = create_sqlite_engine(path)
    migrate(engine, "0001_initial")
    _seed(engine)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys=ON")
        command.upgrade(alembic_config(conn), "head")
        conn.commit()
    engine.dispose()
    assert _counts(path)["fills"] == 0 and _counts(path)["order_events"] == 0


def test_fresh_database_pragmas(tmp_path: Path) -> None:
    engine = create_sqlite_engine(tmp_path / "p.db")
    migrate(engine)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert raw.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert raw.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    engine.dispose()


def test_the_head_read_from_the_scripts_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from tastydesk.engine.schema_revisions import head_revision, script_revisions

    script = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == script.get_current_head()
    assert script_revisions()[1] == {rev.revision for rev in script.walk_revisions()}


def test_opening_a_database_at_the_newest_revision_does_not_import_alembic(
        tmp_path: Path) -> None:
    Store.open(tmp_path / "app.db").close()  # created and migrated
    assert not opening_imports_alembic(tmp_path / "app.db")
    # One revision behind: the migration runs (and needs Alembic).
    engine = create_sqlite_engine(tmp_path / "old.db")
    assert migrate(engine, "0005_fill_market")
    assert migrate(engine)
    assert current_revision(engine) == "0006_lifecycle_events"
    assert not migrate(engine)
    engine.dispose()
