"""The paper broker's durable state as JSON: account, orders, id counters, fill-model random
state. The format is the one saved worlds already hold (``format`` 1); reading validates every
field before anything is applied and names what is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tastydesk.engine.broker.paper.account import PaperPosition
from tastydesk.engine.broker.paper.lifecycle_log import parse_event
from tastydesk.engine.broker.paper.orders import PaperOrder
from tastydesk.engine.domain.enums import OrderAction, OrderStatus
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.lifecycle import LifecycleEvent
from tastydesk.engine.domain.orders import Fill, OrderLeg, OrderRequest

STATE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class BrokerSnapshot:
    """A parsed broker snapshot, ready to apply."""

    cash: Decimal
    fees_paid: Decimal
    realized_closed: Decimal
    positions: list[PaperPosition]
    marks: dict[str, Decimal]
    orders: list[PaperOrder]
    next_order_id: int
    next_fill_id: int
    rng_state: tuple[Any, ...]
    last_step: datetime
    balance_sent_at: datetime | None
    lifecycle: list[LifecycleEvent]
    next_lifecycle_id: int


def parse_broker(state: dict[str, Any]) -> BrokerSnapshot:
    """Raises ValueError naming the field when the snapshot is malformed."""
    try:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"state.format: {state.get('format')!r} is not {STATE_FORMAT}")
        version, internal, gauss = state["rng"]
        sent = state["balance_sent_at"]
        return BrokerSnapshot(
            cash=Decimal(state["cash"]),
            fees_paid=Decimal(state["fees_paid"]),
            realized_closed=Decimal(state["realized_closed"]),
            positions=[PaperPosition.parse(body) for body in state["positions"]],
            marks={s: Decimal(m) for s, m in state["marks"].items()},
            orders=[order_from(body) for body in state["orders"]],
            next_order_id=int(state["next_order_id"]),
            next_fill_id=int(state["next_fill_id"]),
            rng_state=(int(version), tuple(int(x) for x in internal), gauss),
            last_step=datetime.fromisoformat(state["last_step"]),
            balance_sent_at=None if sent is None else datetime.fromisoformat(sent),
            # Worlds saved before lifecycle transactions existed have none.
            lifecycle=[parse_event(row) for row in state.get("lifecycle", [])],
            next_lifecycle_id=int(state.get("next_lifecycle_id", 1)),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"state: malformed paper broker snapshot ({exc})") from exc


def rng_state(state: tuple[Any, ...]) -> list[Any]:
    """A ``random.Random`` state as JSON (tuples become lists)."""
    version, internal, gauss = state
    return [version, list(internal), gauss]


def fill_state(f: Fill) -> list[Any]:
    return [f.fill_id, f.order_id, f.symbol, f.action.value, f.quantity, str(f.price),
            f.time.isoformat()]


def fill_from(row: list[Any]) -> Fill:
    fill_id, order_id, symbol, action, quantity, price, at = row
    return Fill(fill_id, BrokerOrderId(order_id), symbol, OrderAction(action), int(quantity),
                Decimal(price), datetime.fromisoformat(at))


def order_state(r: PaperOrder) -> dict[str, Any]:
    req = r.request
    return {
        "order_id": r.order_id,
        "underlying": req.underlying,
        "legs": [[leg.symbol, leg.action.value, leg.quantity] for leg in req.legs],
        "price": str(req.price),
        "external_id": req.external_id,
        "source": req.source,
        "time_in_force": req.time_in_force.value,
        "units": r.units,
        "ratios": list(r.ratios),
        "status": r.status.value,
        "placed_at": r.placed_at.isoformat(),
        "updated_at": r.updated_at.isoformat(),
        "last_evaluated": r.last_evaluated.isoformat(),
        "filled_units": r.filled_units,
        "fills": [fill_state(f) for f in r.fills],
        "commission_by_leg": [str(c) for c in r.commission_by_leg],
        "reject_reason": r.reject_reason,
        "replaces_order_id": r.replaces_order_id,
        "replacing_order_id": r.replacing_order_id,
    }


def _broker_id(value: str | None) -> BrokerOrderId | None:
    return None if value is None else BrokerOrderId(value)


def order_from(body: dict[str, Any]) -> PaperOrder:
    legs = tuple(OrderLeg(symbol, OrderAction(action), int(qty))
                 for symbol, action, qty in body["legs"])
    # Worlds saved before time in force existed hold only Day orders.
    request = OrderRequest(body["underlying"], legs, Decimal(body["price"]),
                           ExternalOrderId(body["external_id"]), body["source"],
                           TimeInForce(body.get("time_in_force", TimeInForce.DAY.value)))
    return PaperOrder(
        order_id=BrokerOrderId(body["order_id"]),
        request=request,
        units=int(body["units"]),
        ratios=tuple(int(x) for x in body["ratios"]),
        status=OrderStatus(body["status"]),
        placed_at=datetime.fromisoformat(body["placed_at"]),
        updated_at=datetime.fromisoformat(body["updated_at"]),
        last_evaluated=datetime.fromisoformat(body["last_evaluated"]),
        filled_units=int(body["filled_units"]),
        fills=[fill_from(row) for row in body["fills"]],
        commission_by_leg=[Decimal(c) for c in body["commission_by_leg"]],
        reject_reason=body["reject_reason"],
        replaces_order_id=_broker_id(body["replaces_order_id"]),
        replacing_order_id=_broker_id(body["replacing_order_id"]),
    )
