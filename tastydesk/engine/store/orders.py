"""Orders (the intent committed before sending), their event history, and fills.

Fills are stored once (by fill id) and folded into the workflow's position in the same
transaction, so a crash can never leave a fill recorded but its position unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.enums import OrderAction, OrderPurpose, OrderStatus
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId, ProposalId, WorkflowId
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.orders import Fill, OrderLeg, OrderRequest
from tastydesk.engine.domain.records import FillRecord, OrderEventRecord, OrderRecord
from tastydesk.engine.store import codec
from tastydesk.engine.store.database import Database
from tastydesk.engine.store.errors import DuplicateOrderIntent, NotFound, StoreError
from tastydesk.engine.store.positions import fold_position
from tastydesk.engine.store.tables import (
    FILLS,
    ORDER_EVENTS,
    ORDERS,
    decode_time,
    require_workflow,
)
from tastydesk.engine.store.types import decode_json, encode_datetime, encode_decimal, encode_json

LEGS_CACHE_LIMIT = 4096

_SELECT_BY_EXTERNAL = ORDERS.where("external_id=?")
_SELECT_BY_BROKER = ORDERS.where("broker_order_id=? ORDER BY id DESC LIMIT 1")
_SELECT_EVENTS = ORDER_EVENTS.where(
    "order_id = (SELECT id FROM orders WHERE external_id=?) ORDER BY id")
_IDS_BY_EXTERNAL = ORDERS.pick(("id", "workflow_id"), "WHERE external_id=?")
_SELECT_ALL_EVENTS = (
    f"SELECT o.external_id, {', '.join('e.' + c for c in ORDER_EVENTS.columns)} "
    "FROM order_events e JOIN orders o ON o.id = e.order_id")
_IN_CHUNK = 500  # well under SQLite's bound-variable limit
_INSERT_FILL = FILLS.insert + " ON CONFLICT (fill_id) DO NOTHING"
_BUYS = (OrderAction.BUY_TO_OPEN, OrderAction.BUY_TO_CLOSE)


def _order_ids(raw: sqlite3.Connection, external_id: ExternalOrderId) -> tuple[int, WorkflowId]:
    row = raw.execute(_IDS_BY_EXTERNAL, (external_id,)).fetchone()
    if row is None:
        raise NotFound(f"order {external_id!r} does not exist")
    return row[0], WorkflowId(row[1])


def _insert_fill(raw: sqlite3.Connection, order_id: int, workflow_id: WorkflowId, fill: Fill) -> bool:
    cur = raw.execute(_INSERT_FILL, FILLS.params(
        fill_id=fill.fill_id, order_id=order_id, workflow_id=workflow_id,
        symbol=fill.symbol, action=OrderAction(fill.action).value,
        quantity=fill.quantity, price=encode_decimal(fill.price),
        time=encode_datetime(fill.time)))
    return cur.rowcount == 1


def _event_record(row: Any) -> OrderEventRecord:
    e = ORDER_EVENTS.values(row)
    return OrderEventRecord(id=e.id, order_id=e.order_id, status=OrderStatus(e.status),
                            broker_order_id=None if e.broker_order_id is None
                            else BrokerOrderId(e.broker_order_id),
                            price=None if e.price is None else Decimal(e.price),
                            filled_quantity=e.filled_quantity, detail=e.detail,
                            time=decode_time(e.time),
                            mid=None if e.mid is None else Decimal(e.mid),
                            natural=None if e.natural is None else Decimal(e.natural))


def _fill_record(row: Any) -> FillRecord:
    f = FILLS.values(row)
    return FillRecord(id=f.id, fill_id=f.fill_id, order_id=f.order_id,
                      workflow_id=WorkflowId(f.workflow_id), symbol=f.symbol,
                      action=OrderAction(f.action),
                      quantity=f.quantity, price=Decimal(f.price), time=decode_time(f.time))


class OrderRepository:
    """Orders by external id, their events and their fills."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # An order's legs never change after its intent is written, so they are decoded once.
        self._legs: dict[int, tuple[OrderLeg, ...]] = {}

    def create_order_intent(self, workflow_id: WorkflowId, purpose: OrderPurpose, request: OrderRequest,
                            quantity: int, now: datetime, proposal_id: ProposalId | None = None,
                            attempt: int = 0) -> OrderRecord:
        if quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {quantity}")
        purpose = OrderPurpose(purpose)
        status = OrderStatus.PENDING_SUBMIT.value
        when = encode_datetime(now)
        price = encode_decimal(request.price)
        try:
            with self._db.raw_write() as raw:
                require_workflow(raw, workflow_id)
                cur = raw.execute(ORDERS.insert, ORDERS.params(
                    workflow_id=workflow_id, proposal_id=proposal_id,
                    purpose=purpose.value, external_id=request.external_id,
                    broker_order_id=None, status=status, underlying=request.underlying,
                    price=price, quantity=quantity, filled_quantity=0,
                    attempt=attempt, legs=encode_json(codec.legs_to_json(request.legs)),
                    created_at=when, updated_at=when, reject_reason=None,
                    fees=None, time_in_force=TimeInForce(request.time_in_force).value))
                order_id = cur.lastrowid
                raw.execute(ORDER_EVENTS.insert, ORDER_EVENTS.params(
                    order_id=order_id, status=status, broker_order_id=None,
                    price=price, filled_quantity=0, detail="intent recorded",
                    time=when, mid=None, natural=None))
        except sqlite3.IntegrityError as exc:
            text = str(exc)
            if "external_id" in text:
                raise DuplicateOrderIntent(
                    f"an order with external id {request.external_id!r} already exists") from None
            if "UNIQUE" in text:
                raise DuplicateOrderIntent(
                    f"proposal {proposal_id} already has a {purpose.value} order "
                    f"for attempt {attempt}") from None
            raise StoreError(f"order intent refused: {text}") from exc
        assert order_id is not None
        self._legs[order_id] = request.legs
        return OrderRecord(
            id=order_id, workflow_id=workflow_id, proposal_id=proposal_id, purpose=purpose,
            external_id=request.external_id, broker_order_id=None,
            status=OrderStatus.PENDING_SUBMIT, price=request.price, quantity=quantity,
            filled_quantity=0, attempt=attempt, underlying=request.underlying, legs=request.legs,
            created_at=now, updated_at=now, reject_reason=None,
            time_in_force=TimeInForce(request.time_in_force))

    def update_order(self, external_id: ExternalOrderId, status: OrderStatus, now: datetime,
                     broker_order_id: BrokerOrderId | None = None, price: Decimal | None = None,
                     filled_quantity: int | None = None, detail: str = "",
                     fees: Decimal | None = None, mid: Decimal | None = None,
                     natural: Decimal | None = None) -> OrderRecord:
        if fees is not None and (not isinstance(fees, Decimal) or not fees.is_finite()
                                 or fees < 0):
            raise ValueError(f"fees must be a non-negative Decimal, got {fees!r}")
        status = OrderStatus(status)
        when = encode_datetime(now)
        encoded_price = encode_decimal(price)
        with self._db.raw_write() as raw:
            row = raw.execute(_SELECT_BY_EXTERNAL, (external_id,)).fetchone()
            if row is None:
                raise NotFound(f"order {external_id!r} does not exist")
            current = ORDERS.values(row)
            if filled_quantity is not None and not 0 <= filled_quantity <= current.quantity:
                raise ValueError(f"filled_quantity must be between 0 and {current.quantity}, "
                                 f"got {filled_quantity}")
            sets: dict[str, Any] = {"status": status.value, "updated_at": when}
            if broker_order_id is not None:
                sets["broker_order_id"] = broker_order_id
            if price is not None:
                sets["price"] = encoded_price
            if filled_quantity is not None:
                sets["filled_quantity"] = filled_quantity
            if status is OrderStatus.REJECTED and detail:
                sets["reject_reason"] = detail
            if fees is not None:
                sets["fees"] = encode_decimal(fees)
            raw.execute(ORDERS.update(sets, "id=?"), (*sets.values(), current.id))
            raw.execute(ORDER_EVENTS.insert, ORDER_EVENTS.params(
                order_id=current.id, status=status.value,
                broker_order_id=broker_order_id, price=encoded_price,
                filled_quantity=filled_quantity, detail=detail, time=when,
                mid=encode_decimal(mid), natural=encode_decimal(natural)))
        return self._order_record(current._replace(**sets))

    def _order_record(self, o: Any) -> OrderRecord:
        legs = self._legs.get(o.id)
        if legs is None:
            legs = codec.legs_from_json(decode_json(o.legs))
            if len(self._legs) > LEGS_CACHE_LIMIT:
                self._legs.clear()
            self._legs[o.id] = legs
        return OrderRecord(
            id=o.id, workflow_id=WorkflowId(o.workflow_id),
            proposal_id=None if o.proposal_id is None else ProposalId(o.proposal_id),
            purpose=OrderPurpose(o.purpose), external_id=ExternalOrderId(o.external_id),
            broker_order_id=None if o.broker_order_id is None else BrokerOrderId(o.broker_order_id),
            status=OrderStatus(o.status),
            price=Decimal(o.price), quantity=o.quantity, filled_quantity=o.filled_quantity,
            attempt=o.attempt, underlying=o.underlying, legs=legs,
            created_at=decode_time(o.created_at), updated_at=decode_time(o.updated_at),
            reject_reason=o.reject_reason, fees=None if o.fees is None else Decimal(o.fees),
            time_in_force=TimeInForce(o.time_in_force))

    def _first_order(self, sql: str, value: object) -> OrderRecord | None:
        with self._db.raw_read() as raw:
            row = raw.execute(sql, (value,)).fetchone()
        return None if row is None else self._order_record(ORDERS.values(row))

    def get_order(self, external_id: ExternalOrderId) -> OrderRecord | None:
        return self._first_order(_SELECT_BY_EXTERNAL, external_id)

    def order_by_broker_id(self, broker_order_id: BrokerOrderId) -> OrderRecord | None:
        return self._first_order(_SELECT_BY_BROKER, broker_order_id)

    def orders(self, workflow_id: WorkflowId | None = None, open_only: bool = False) -> list[OrderRecord]:
        sql = ORDERS.where("1=1")
        params: list[Any] = []
        if workflow_id is not None:
            sql += " AND workflow_id=?"
            params.append(workflow_id)
        if open_only:
            terminal = [st.value for st in OrderStatus if st.is_terminal]
            sql += f" AND status NOT IN ({', '.join('?' * len(terminal))})"
            params.extend(terminal)
        with self._db.raw_read() as raw:
            rows = raw.execute(sql + " ORDER BY id", params).fetchall()
        return [self._order_record(ORDERS.values(r)) for r in rows]

    def order_events(self, external_id: ExternalOrderId) -> list[OrderEventRecord]:
        with self._db.raw_read() as raw:
            rows = raw.execute(_SELECT_EVENTS, (external_id,)).fetchall()
        return [_event_record(r) for r in rows]

    def order_events_by_order(self, external_ids: Iterable[ExternalOrderId] | None = None
                              ) -> dict[ExternalOrderId, list[OrderEventRecord]]:
        wanted = None if external_ids is None else list(dict.fromkeys(external_ids))
        queries: list[tuple[str, Sequence[str]]] = [(_SELECT_ALL_EVENTS, ())]
        if wanted is not None:
            queries = [(f"{_SELECT_ALL_EVENTS} WHERE o.external_id IN "
                        f"({', '.join('?' * len(chunk))})", chunk)
                       for chunk in (wanted[i:i + _IN_CHUNK]
                                     for i in range(0, len(wanted), _IN_CHUNK))]
        rows: list[Any] = []
        with self._db.raw_read() as raw:
            for sql, params in queries:
                rows += raw.execute(sql, params).fetchall()
        out: dict[ExternalOrderId, list[OrderEventRecord]] = {ext: [] for ext in wanted or ()}
        for row in sorted(rows, key=lambda r: r[1]):  # by event id: the order they happened
            out.setdefault(row[0], []).append(_event_record(row[1:]))
        return out

    def add_fill(self, external_id: ExternalOrderId, fill: Fill) -> bool:
        with self._db.raw_write() as raw:
            order_id, workflow_id = _order_ids(raw, external_id)
            return _insert_fill(raw, order_id, workflow_id, fill)

    def record_fills(self, external_id: ExternalOrderId, fills: Sequence[Fill], now: datetime) -> list[Fill]:
        new: list[Fill] = []
        with self._db.raw_write() as raw:
            order_id, workflow_id = _order_ids(raw, external_id)
            for fill in fills:
                if not _insert_fill(raw, order_id, workflow_id, fill):
                    continue
                buy = OrderAction(fill.action) in _BUYS
                fold_position(raw, workflow_id, fill.symbol,
                              fill.quantity if buy else -fill.quantity, fill.price, now)
                new.append(fill)
        return new

    def fills(self, workflow_id: WorkflowId | None = None) -> list[FillRecord]:
        sql = FILLS.select
        params: tuple[Any, ...] = ()
        if workflow_id is not None:
            sql += " WHERE workflow_id=?"
            params = (workflow_id,)
        with self._db.raw_read() as raw:
            rows = raw.execute(sql + " ORDER BY id", params).fetchall()
        return [_fill_record(r) for r in rows]
