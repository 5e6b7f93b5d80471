"""An order the engine is working at the broker: its price walk and look-up state."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tastydesk.engine.clock import TimerHandle
from tastydesk.engine.domain.enums import CommitmentKind, OrderPurpose
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId, WorkflowId
from tastydesk.engine.domain.orders import OrderRequest, OrderSnapshot
from tastydesk.engine.domain.records import OrderRecord
from tastydesk.engine.orders.pricing import WalkPlan
from tastydesk.engine.orders.records import OrderRecords
from tastydesk.engine.risk.checks import Commitment


@dataclass(slots=True)
class WorkingOrder:
    external_id: ExternalOrderId
    workflow_id: WorkflowId
    purpose: OrderPurpose
    broker_order_id: BrokerOrderId | None
    request: OrderRequest  # as first sent; ``price`` below is the current limit
    price: Decimal
    mid: Decimal  # at the start of the walk; updated from quotes while it works
    natural: Decimal
    plan: WalkPlan
    units: int
    attempt: int = 0  # index of the current price (0 = the start)
    filled_before: int = 0  # units filled on orders this one replaced
    timer: TimerHandle | None = None
    rule_type: str = ""
    lookups: int = 0
    buying_power_per_unit: Decimal = Decimal(0)  # of an opening order, for pre-trade checks
    # Why the app asked the broker to cancel it: tastytrade may answer "Cancel Requested" and
    # confirm later on the account stream, and the confirmation must end it for that reason.
    cancel_reason: str = ""


def remaining_request(working: WorkingOrder, filled: int, price: Decimal) -> OrderRequest:
    """The order a replace at ``price`` leaves working: the ``filled`` units are done, so its
    dry run checks only the rest (not the whole original order)."""
    request = working.request
    remaining = working.units - filled
    if filled <= 0 or remaining <= 0:
        return dataclasses.replace(request, price=price)
    legs = tuple(dataclasses.replace(leg, quantity=leg.quantity // working.units * remaining)
                 for leg in request.legs)
    return dataclasses.replace(request, price=price, legs=legs)


def opening_commitments(working: Iterable[WorkingOrder], records: OrderRecords
                        ) -> list[Commitment]:
    """Buying power the unfilled part of every working opening order would use."""
    out = []
    for w in working:
        if w.purpose is OrderPurpose.OPEN and w.buying_power_per_unit > 0:
            record = records.get(w.external_id)
            left = w.units - (record.filled_quantity if record else 0)
            if left > 0:
                out.append(Commitment(w.workflow_id, w.request.underlying,
                                      w.buying_power_per_unit * left, CommitmentKind.WORKING_ORDER))
    return out


class OrderOutcomes(Protocol):
    """What the workflow side does when an order ends (or part of it fills while the rest
    works); the order manager calls it under the workflow's lock, right after the order's
    state is stored."""

    async def order_filled(self, record: OrderRecord, snap: OrderSnapshot,
                           partial_units: int | None = None) -> None: ...

    async def order_ended(self, record: OrderRecord, reason: str) -> None: ...

    async def order_partly_filled(self, record: OrderRecord) -> None: ...
