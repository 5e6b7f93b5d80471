"""An order the engine is working at the broker: its price walk and look-up state."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tastydesk.engine.clock import TimerHandle
from tastydesk.engine.domain.enums import OrderPurpose
from tastydesk.engine.domain.orders import OrderSnapshot
from tastydesk.engine.domain.records import OrderRecord


@dataclass(slots=True)
class WorkingOrder:
    external_id: str
    workflow_id: int
    purpose: OrderPurpose
    broker_order_id: str | None
    price: Decimal
    natural: Decimal
    step: Decimal
    limit: Decimal | None
    interval_s: float
    max_attempts: int
    units: int
    attempts: int = 1
    filled_before: int = 0  # units filled on orders this one replaced
    timer: TimerHandle | None = None
    rule_type: str = ""
    lookups: int = 0


class OrderOutcomes(Protocol):
    """What the workflow side does when an order ends; the order manager calls it under the
    workflow's lock, right after the order's final state is stored."""

    async def order_filled(self, record: OrderRecord, snap: OrderSnapshot,
                           partial_units: int | None = None) -> None: ...

    async def order_ended(self, record: OrderRecord, reason: str) -> None: ...
