"""Orders as the engine sees them, independent of any broker's wire format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tastydesk.engine.domain.enums import CommandOutcome, OrderAction, OrderStatus
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId
from tastydesk.engine.domain.instruments import TimeInForce


@dataclass(frozen=True, slots=True)
class OrderLeg:
    symbol: str  # OCC
    action: OrderAction
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A limit order for a multi-leg option trade. ``price`` is signed: credit +, debit -."""

    underlying: str
    legs: tuple[OrderLeg, ...]
    price: Decimal
    external_id: ExternalOrderId
    source: str = "tastydesk"
    time_in_force: TimeInForce = TimeInForce.DAY


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    order_id: BrokerOrderId
    symbol: str
    action: OrderAction
    quantity: int
    price: Decimal  # per share, unsigned leg price
    time: datetime


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """What the broker says about one order at one moment."""

    order_id: BrokerOrderId
    external_id: ExternalOrderId | None
    underlying: str
    legs: tuple[OrderLeg, ...]
    price: Decimal  # signed
    status: OrderStatus
    filled_quantity: int  # in spread units (quantity of the first leg's ratio)
    quantity: int
    fills: tuple[Fill, ...] = ()
    reject_reason: str | None = None
    replaces_order_id: BrokerOrderId | None = None
    updated_at: datetime | None = None
    source: str | None = None
    replacing_order_id: BrokerOrderId | None = None  # set on an order cancelled by a replace: the new id


@dataclass(frozen=True, slots=True)
class DryRunResult:
    buying_power_effect: Decimal  # change in buying power, negative when it consumes BP
    fees: Decimal  # total, positive number
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class CommandResult:
    """Classified outcome of place / replace / cancel."""

    outcome: CommandOutcome
    order: OrderSnapshot | None = None
    reason: str = ""
