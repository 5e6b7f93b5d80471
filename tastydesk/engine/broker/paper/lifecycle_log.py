"""The paper account's lifecycle transactions: expirations, exercises, assignments, share
deliveries and dividends, kept like tastytrade's transaction history.

Each transaction gets an id (``L1``, ``L2``…) from a counter that survives restarts, is kept
for :meth:`LifecycleLog.since` (what start-up reconciliation reads) and is published as
``LifecycleOccurred`` when it happens.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.domain.lifecycle import LifecycleEvent, LifecycleKind, LifecycleOccurred


class LifecycleLog:
    """Every lifecycle transaction of the account, oldest first."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._events: list[LifecycleEvent] = []
        self.next_id = 1

    def record(self, kind: LifecycleKind, symbol: str, underlying: str, quantity: int,
               price: Decimal, value: Decimal, time: datetime, *, early: bool = False,
               description: str = "") -> LifecycleEvent:
        """Keep one transaction and publish it."""
        event = LifecycleEvent(f"L{self.next_id}", kind, symbol, underlying, quantity, price,
                               value, time, early, description)
        self.next_id += 1
        self._events.append(event)
        self._bus.publish(LifecycleOccurred(event))
        return event

    def since(self, since: datetime | None) -> list[LifecycleEvent]:
        """Transactions after ``since`` (all when None), oldest first."""
        if since is None:
            return list(self._events)
        return [e for e in self._events if e.time > since]

    # -- durable state ---------------------------------------------------------------------

    def state(self) -> list[list[Any]]:
        return [[e.transaction_id, e.kind.value, e.symbol, e.underlying, e.quantity,
                 str(e.price), str(e.value), e.time.isoformat(), e.early, e.description]
                for e in self._events]

    def restore(self, events: list[LifecycleEvent], next_id: int) -> None:
        self._events = list(events)
        self.next_id = next_id


def parse_event(row: list[Any]) -> LifecycleEvent:
    """One transaction from :meth:`LifecycleLog.state`; KeyError/TypeError/ValueError if bad."""
    tid, kind, symbol, underlying, quantity, price, value, at, early, description = row
    return LifecycleEvent(str(tid), LifecycleKind(kind), str(symbol), str(underlying),
                          int(quantity), Decimal(price), Decimal(value),
                          datetime.fromisoformat(at), bool(early), str(description))
