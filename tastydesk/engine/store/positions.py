"""Positions per workflow and symbol, folded from leg fills inside the fill's own transaction."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.lifecycle import multiplier_for
from tastydesk.engine.domain.records import PositionRecord
from tastydesk.engine.store.database import Database
from tastydesk.engine.store.tables import POSITIONS, decode_time, require_workflow
from tastydesk.engine.store.types import decode_datetime, encode_datetime, encode_decimal

PRICE_PLACES = Decimal("0.000001")

_SELECT_OPEN = POSITIONS.where(
    "workflow_id=? AND symbol=? AND closed_at IS NULL ORDER BY id DESC LIMIT 1")
_SET_HOLDING = POSITIONS.update(("quantity", "avg_open_price", "realised_pnl", "closed_at"),
                                "id=?")


def position_record(row: Any) -> PositionRecord:
    p = POSITIONS.values(row)
    return PositionRecord(id=p.id, workflow_id=WorkflowId(p.workflow_id), symbol=p.symbol,
                          quantity=p.quantity, avg_open_price=Decimal(p.avg_open_price),
                          opened_at=decode_time(p.opened_at),
                          closed_at=decode_datetime(p.closed_at),
                          realised_pnl=Decimal(p.realised_pnl))


def fold_position(raw: sqlite3.Connection, workflow_id: WorkflowId, symbol: str, signed_quantity: int,
                  price: Decimal, now: datetime) -> PositionRecord:
    """Fold one leg fill into the open position, in the caller's write transaction.

    Adding averages the open price; reducing realises ``(exit - open) x quantity x multiplier``
    (sign-adjusted for shorts; 100 for an option, 1 for shares delivered by an assignment);
    crossing through zero closes the old row and opens a new one at the fill price.
    """
    if signed_quantity == 0:
        raise ValueError("signed_quantity must not be zero")
    if not isinstance(price, Decimal) or not price.is_finite() or price < 0:
        raise ValueError(f"price must be a non-negative Decimal, got {price!r}")
    when = encode_datetime(now)
    row = raw.execute(_SELECT_OPEN, (workflow_id, symbol)).fetchone()

    def opened(quantity: int) -> PositionRecord:
        cur = raw.execute(POSITIONS.insert, POSITIONS.params(
            workflow_id=workflow_id, symbol=symbol, quantity=quantity,
            avg_open_price=encode_decimal(price), opened_at=when, closed_at=None,
            realised_pnl="0"))
        assert cur.lastrowid is not None
        return PositionRecord(id=cur.lastrowid, workflow_id=workflow_id, symbol=symbol,
                              quantity=quantity, avg_open_price=price, opened_at=now,
                              closed_at=None, realised_pnl=Decimal("0"))

    if row is None:
        return opened(signed_quantity)
    held_row = position_record(row)
    pos_id, quantity, avg = held_row.id, held_row.quantity, held_row.avg_open_price
    realised = held_row.realised_pnl
    closed_at: datetime | None = None
    if (quantity > 0) == (signed_quantity > 0):
        held, added = abs(quantity), abs(signed_quantity)
        avg = ((avg * held + price * added) / (held + added)).quantize(PRICE_PLACES).normalize()
        quantity += signed_quantity
        remainder = 0
    else:
        closing = min(abs(quantity), abs(signed_quantity))
        direction = 1 if quantity > 0 else -1
        realised += (price - avg) * closing * direction * multiplier_for(symbol)
        remainder = quantity + signed_quantity
        if remainder == 0 or (remainder > 0) != (quantity > 0):
            quantity, closed_at = 0, now
        else:
            quantity, remainder = remainder, 0
    raw.execute(_SET_HOLDING, (quantity, encode_decimal(avg), encode_decimal(realised),
                               encode_datetime(closed_at), pos_id))
    if remainder != 0:
        return opened(remainder)
    return PositionRecord(id=pos_id, workflow_id=workflow_id, symbol=symbol, quantity=quantity,
                          avg_open_price=avg, opened_at=held_row.opened_at, closed_at=closed_at,
                          realised_pnl=realised)


class PositionRepository:
    """Positions held by workflows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def apply_position_fill(self, workflow_id: WorkflowId, symbol: str, signed_quantity: int,
                            price: Decimal, now: datetime) -> PositionRecord:
        with self._db.raw_write() as raw:
            require_workflow(raw, workflow_id)
            return fold_position(raw, workflow_id, symbol, signed_quantity, price, now)

    def positions(self, workflow_id: WorkflowId | None = None,
                  open_only: bool = True) -> list[PositionRecord]:
        sql = POSITIONS.where("1=1")
        params: list[Any] = []
        if workflow_id is not None:
            sql += " AND workflow_id=?"
            params.append(workflow_id)
        if open_only:
            sql += " AND closed_at IS NULL"
        with self._db.raw_read() as raw:
            rows = raw.execute(sql + " ORDER BY id", params).fetchall()
        return [position_record(r) for r in rows]
