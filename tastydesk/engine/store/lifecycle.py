"""Lifecycle transactions booked against workflows' positions, once per transaction id."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.lifecycle import LifecycleBooking, LifecycleEvent, LifecycleKind
from tastydesk.engine.store.database import Database
from tastydesk.engine.store.models import LifecycleRow
from tastydesk.engine.store.positions import fold_position
from tastydesk.engine.store.tables import TableSql, decode_time, require_workflow
from tastydesk.engine.store.types import encode_datetime, encode_decimal

LIFECYCLE = TableSql.of(LifecycleRow)
_EXISTS = f"SELECT 1 FROM {LIFECYCLE.name} WHERE transaction_id=?"
_LATEST = f"SELECT MAX(time) FROM {LIFECYCLE.name}"


def _booking(row: Any) -> LifecycleBooking:
    r = LIFECYCLE.values(row)
    event = LifecycleEvent(
        transaction_id=r.transaction_id, kind=LifecycleKind(r.kind), symbol=r.symbol,
        underlying=r.underlying, quantity=r.quantity, price=Decimal(r.price),
        value=Decimal(r.value), time=decode_time(r.time), early=bool(r.early),
        description=r.description)
    owner = None if r.workflow_id is None else WorkflowId(r.workflow_id)
    return LifecycleBooking(event, owner, decode_time(r.booked_at))


class LifecycleRepository:
    """What expirations, assignments, deliveries and dividends did to the app's positions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def book_lifecycle(self, event: LifecycleEvent, workflow_id: WorkflowId | None,
                       now: datetime) -> bool:
        """Record ``event`` and fold its quantity into the workflow's position, in one
        transaction; False (and nothing changed) when this transaction id was booked before.

        The position moves at the event's price: 0 for an option removed by expiration,
        assignment or exercise, the strike for delivered shares, the intrinsic value for a cash
        settlement; a dividend moves cash only.
        """
        with self._db.raw_write() as raw:
            if raw.execute(_EXISTS, (event.transaction_id,)).fetchone() is not None:
                return False
            if workflow_id is not None:
                require_workflow(raw, workflow_id)
            raw.execute(LIFECYCLE.insert, LIFECYCLE.params(
                transaction_id=event.transaction_id, workflow_id=workflow_id,
                kind=event.kind.value, symbol=event.symbol, underlying=event.underlying,
                quantity=event.quantity, price=encode_decimal(event.price),
                value=encode_decimal(event.value), early=int(event.early),
                description=event.description, time=encode_datetime(event.time),
                booked_at=encode_datetime(now)))
            if workflow_id is not None and event.quantity != 0:
                fold_position(raw, workflow_id, event.symbol, event.quantity, event.price, now)
        return True

    def lifecycle_booked(self, transaction_id: str) -> bool:
        with self._db.raw_read() as raw:
            return raw.execute(_EXISTS, (transaction_id,)).fetchone() is not None

    def lifecycle_bookings(self, workflow_id: WorkflowId | None = None) -> list[LifecycleBooking]:
        sql = LIFECYCLE.select
        params: tuple[Any, ...] = ()
        if workflow_id is not None:
            sql += " WHERE workflow_id=?"
            params = (workflow_id,)
        with self._db.raw_read() as raw:
            rows = raw.execute(sql + " ORDER BY id", params).fetchall()
        return [_booking(r) for r in rows]

    def last_lifecycle_time(self) -> datetime | None:
        """When the latest booked transaction happened (what start-up reads the broker since)."""
        with self._db.raw_read() as raw:
            row = raw.execute(_LATEST).fetchone()
        return None if row is None or row[0] is None else decode_time(row[0])
