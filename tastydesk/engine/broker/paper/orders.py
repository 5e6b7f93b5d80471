"""The paper broker's order book: every order it took, the working ones, and today's index.

Order ids and fill ids are counters owned here, so they stay unique across restarts (they are
part of the snapshot). ``live_orders``/``find_order`` follow tastytrade: they answer from the
orders created or updated today, read from an index kept as orders change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import reduce

from tastydesk.engine.clock import NEW_YORK
from tastydesk.engine.domain.enums import OrderStatus
from tastydesk.engine.domain.ids import BrokerOrderId
from tastydesk.engine.domain.orders import Fill, OrderLeg, OrderRequest, OrderSnapshot


@dataclass(slots=True)
class PaperOrder:
    """One order as the paper broker keeps it (mutable: fills and status change it)."""

    order_id: BrokerOrderId
    request: OrderRequest
    units: int
    ratios: tuple[int, ...]
    status: OrderStatus
    placed_at: datetime
    updated_at: datetime
    last_evaluated: datetime
    filled_units: int = 0
    fills: list[Fill] = field(default_factory=list)
    commission_by_leg: list[Decimal] = field(default_factory=list)
    reject_reason: str | None = None
    replaces_order_id: BrokerOrderId | None = None
    replacing_order_id: BrokerOrderId | None = None

    @property
    def remaining(self) -> int:
        return self.units - self.filled_units

    def remaining_legs(self) -> tuple[OrderLeg, ...]:
        """The legs of the unfilled part."""
        return tuple(OrderLeg(leg.symbol, leg.action, self.remaining * ratio)
                     for leg, ratio in zip(self.request.legs, self.ratios, strict=True))

    def snapshot(self) -> OrderSnapshot:
        return OrderSnapshot(
            order_id=self.order_id,
            external_id=self.request.external_id,
            underlying=self.request.underlying,
            legs=self.request.legs,
            price=self.request.price,
            status=self.status,
            filled_quantity=self.filled_units,
            quantity=self.units,
            fills=tuple(self.fills),
            reject_reason=self.reject_reason,
            replaces_order_id=self.replaces_order_id,
            updated_at=self.updated_at,
            source=self.request.source,
            replacing_order_id=self.replacing_order_id,
        )


def units_of(legs: tuple[OrderLeg, ...]) -> tuple[int, tuple[int, ...]]:
    """Spread units and per-leg ratios: the legs divided by their greatest common quantity."""
    if not legs:
        return 0, ()
    units = reduce(math.gcd, (leg.quantity for leg in legs))
    return units, tuple(leg.quantity // units for leg in legs)


def ny_date(at: datetime) -> date:
    return at.astimezone(NEW_YORK).date()


class OrderBook:
    """Orders by id, the working ones, today's index and the id counters; see the module."""

    def __init__(self) -> None:
        self._orders: dict[BrokerOrderId, PaperOrder] = {}
        self._live: dict[BrokerOrderId, PaperOrder] = {}  # working and partially filled orders
        self._touched: dict[BrokerOrderId, PaperOrder] = {}  # orders updated on ``_touched_day``
        self._touched_day: date | None = None
        self.next_order_id = 1
        self.next_fill_id = 1

    def new_order_id(self) -> BrokerOrderId:
        order_id = BrokerOrderId(str(self.next_order_id))
        self.next_order_id += 1
        return order_id

    def new_fill_id(self, prefix: str) -> str:
        fill_id = f"{prefix}{self.next_fill_id}"
        self.next_fill_id += 1
        return fill_id

    def add(self, record: PaperOrder) -> None:
        """A new order, working unless its status is terminal."""
        self._orders[record.order_id] = record
        if not record.status.is_terminal:
            self._live[record.order_id] = record
        self.touch(record)

    def get(self, order_id: BrokerOrderId) -> PaperOrder | None:
        return self._orders.get(order_id)

    def working(self) -> list[PaperOrder]:
        """Working and partially filled orders, oldest first."""
        return list(self._live.values())

    @property
    def has_working(self) -> bool:
        return bool(self._live)

    def finish(self, record: PaperOrder, status: OrderStatus, at: datetime) -> None:
        """``record`` stops working with ``status`` (filled, cancelled, expired, replaced)."""
        record.status = status
        record.updated_at = at
        self._live.pop(record.order_id, None)
        self.touch(record)

    def touch(self, record: PaperOrder) -> None:
        day = ny_date(record.updated_at)
        if day != self._touched_day:
            self._touched = {}
            self._touched_day = day
        self._touched[record.order_id] = record

    def of_day(self, today: date) -> list[PaperOrder]:
        """Orders updated on ``today`` (placed today implies that), oldest first."""
        if self._touched_day != today:
            return []
        return sorted(self._touched.values(), key=lambda r: int(r.order_id))

    def live_view(self, today: date) -> list[PaperOrder]:
        """tastytrade's live orders: every order created or updated ``today`` plus orders still
        working from earlier days (GTC), oldest first."""
        seen = {r.order_id: r for r in self.of_day(today)}
        for record in self._live.values():
            seen.setdefault(record.order_id, record)
        return sorted(seen.values(), key=lambda r: int(r.order_id))

    def kept(self) -> list[PaperOrder]:
        """What a snapshot keeps: the latest day's orders and every order still working."""
        kept = {**self._touched, **self._live}
        return sorted(kept.values(), key=lambda r: int(r.order_id))

    def restore(self, orders: list[PaperOrder], next_order_id: int, next_fill_id: int) -> None:
        self._orders = {r.order_id: r for r in orders}
        self._live = {r.order_id: r for r in orders if not r.status.is_terminal}
        self._touched, self._touched_day = {}, None
        for record in sorted(orders, key=lambda r: (r.updated_at, int(r.order_id))):
            self.touch(record)
        self.next_order_id = next_order_id
        self.next_fill_id = next_fill_id
