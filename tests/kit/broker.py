"""A scripted broker: implements the broker port, answers each command as the test scripts it.

Commands (place, replace, cancel) take their outcome from a script (``ACCEPT`` by default): a
definitive rejection, a reply lost after the broker acted (``LOST_REPLY``: the order was placed,
replaced or cancelled, the engine hears UNKNOWN), or a command lost on the way (``LOST_ORDER``:
UNKNOWN, and the broker never saw it); the engine learns the order's fate only by looking it up. Fills are
made by the test (``fill``), announced like a real broker's stream or left silent, so races
between a fill and a replace can be staged exactly.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from enum import Enum

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.account import AccountInfo, Balance, BrokerPosition
from tastydesk.engine.domain.chain import (
    OptionChain,
    OptionContract,
    Quote,
    UnderlyingInfo,
    parse_occ,
)
from tastydesk.engine.domain.enums import CommandOutcome, Mode, OrderAction, OrderStatus, StreamHealth
from tastydesk.engine.domain.events import OrderUpdated, QuoteReceived
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId
from tastydesk.engine.domain.orders import (
    CommandResult,
    DryRunResult,
    Fill,
    OrderRequest,
    OrderSnapshot,
)
from tastydesk.engine.ports import BrokerPort


class Script(Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    LOST_REPLY = "lost reply"  # the broker took it; the answer never came back
    LOST_ORDER = "lost order"  # it never reached the broker; the answer never came back


class ScriptedBroker(BrokerPort):
    mode = Mode.PAPER

    def __init__(self, bus: EventBus, clock: Clock) -> None:
        self.bus = bus
        self.clock = clock
        self.orders: dict[str, OrderSnapshot] = {}
        self.placed: list[OrderRequest] = []
        self.replaced: list[tuple[str, Decimal]] = []
        self.cancelled: list[str] = []
        self.calls: list[tuple[str, str]] = []  # ("place", external id) / ("cancel", order id)
        self.dry_run_errors: tuple[str, ...] = ()
        self.fees = Decimal("2.00")
        self.held: dict[str, BrokerPosition] = {}
        self.quotes: dict[str, Quote] = {}  # OCC symbol -> latest quote
        self.subscribed: set[str] = set()
        self._scripts: dict[str, deque[Script]] = {"place": deque(), "replace": deque(),
                                                   "cancel": deque()}
        self._ids = itertools.count(1)
        self._fill_ids = itertools.count(1)

    # ---- scripting
    def script(self, command: str, *outcomes: Script) -> None:
        """The next answers to ``command`` (place, replace or cancel), in order."""
        self._scripts[command].extend(outcomes)

    def _next(self, command: str) -> Script:
        queue = self._scripts[command]
        return queue.popleft() if queue else Script.ACCEPT

    def quote(self, symbol: str, streamer: str, bid: str, ask: str,
              publish: bool = True) -> Quote:
        """Set a leg's quote (for chains) and, by default, stream it."""
        q = Quote(streamer, Decimal(bid), Decimal(ask), self.clock.now())
        self.quotes[symbol] = q
        if publish:
            self.bus.publish(QuoteReceived(q))
        return q

    def fill(self, order_id: BrokerOrderId, units: int, announce: bool = True,
             prices: dict[str, str] | None = None) -> OrderSnapshot:
        """Fill ``units`` spreads of an order at its limit (each leg at 1.00, or at its price
        in ``prices`` by OCC symbol); announce it as a stream would."""
        snap = self.orders[order_id]
        fills = tuple(Fill(f"fill-{next(self._fill_ids)}", order_id, leg.symbol, leg.action,
                           leg.quantity // snap.quantity * units,
                           Decimal((prices or {}).get(leg.symbol, "1.00")),
                           self.clock.now()) for leg in snap.legs)
        filled = snap.filled_quantity + units
        status = OrderStatus.FILLED if filled >= snap.quantity else OrderStatus.PARTIALLY_FILLED
        snap = replace(snap, fills=snap.fills + fills, filled_quantity=filled, status=status)
        self.orders[order_id] = snap
        for leg in snap.legs:
            sign = -1 if leg.action in (OrderAction.SELL_TO_OPEN, OrderAction.SELL_TO_CLOSE) else 1
            qty = sign * leg.quantity // snap.quantity * units
            held = self.held.get(leg.symbol)
            total = qty + (held.quantity if held else 0)
            root = parse_occ(leg.symbol)[0] if len(leg.symbol) == 21 else leg.symbol  # shares
            self.held[leg.symbol] = BrokerPosition(leg.symbol, root, total, Decimal("1.00"))
        if announce:
            self.bus.publish(OrderUpdated(snap))
        return snap

    def live(self, external_id: ExternalOrderId) -> OrderSnapshot | None:
        return next((o for o in reversed(self.orders.values())
                     if o.external_id == external_id and o.status is not OrderStatus.REPLACED),
                    None)

    # ---- the port
    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def accounts(self) -> list[AccountInfo]:
        return []

    async def balance(self) -> Balance:
        return Balance("5WT00001", Decimal("100000"), Decimal("100000"), Decimal("100000"))

    async def positions(self) -> list[BrokerPosition]:
        return [p for p in self.held.values() if p.quantity]

    async def option_chain(self, symbol: str, min_dte: int = 0, max_dte: int = 400) -> OptionChain:
        contracts = {}
        for occ, q in self.quotes.items():
            root, expiry, kind, strike = parse_occ(occ)
            if root == symbol:
                contracts[occ] = OptionContract(occ, q.symbol, root, expiry, strike, kind, quote=q)
        return OptionChain(UnderlyingInfo(symbol, Decimal("600")), (), self.clock.now(),
                           _by_symbol=contracts)

    async def market_metrics(self, symbols: Iterable[str]) -> dict[str, UnderlyingInfo]:
        return {s: UnderlyingInfo(s, Decimal("600")) for s in symbols}

    async def subscribe(self, symbols: Iterable[str]) -> None:
        self.subscribed.update(symbols)

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        self.subscribed.difference_update(symbols)

    async def dry_run(self, order: OrderRequest) -> DryRunResult:
        await asyncio.sleep(0)  # a network round trip: other tasks run meanwhile
        return DryRunResult(Decimal("-500"), self.fees, errors=self.dry_run_errors)

    async def place(self, order: OrderRequest) -> CommandResult:
        await asyncio.sleep(0)  # a network round trip: other tasks run meanwhile
        self.placed.append(order)
        self.calls.append(("place", order.external_id))
        script = self._next("place")
        if script is Script.REJECT:
            return CommandResult(CommandOutcome.REJECTED, reason="scripted rejection")
        if script is Script.LOST_ORDER:
            return CommandResult(CommandOutcome.UNKNOWN, reason="timeout before the broker")
        units = math.gcd(*(leg.quantity for leg in order.legs))  # spreads of 1:1 ratios
        snap = OrderSnapshot(BrokerOrderId(f"B{next(self._ids)}"), order.external_id, order.underlying,
                             order.legs, order.price, OrderStatus.WORKING, 0, units,
                             updated_at=self.clock.now())
        self.orders[snap.order_id] = snap
        if script is Script.LOST_REPLY:
            return CommandResult(CommandOutcome.UNKNOWN, reason="timeout after send")
        return CommandResult(CommandOutcome.ACCEPTED, snap)

    async def replace(self, order_id: BrokerOrderId, price: Decimal) -> CommandResult:
        await asyncio.sleep(0)  # a network round trip: other tasks run meanwhile
        self.replaced.append((order_id, price))
        old = self.orders[order_id]
        script = self._next("replace")
        if script is Script.LOST_ORDER:
            return CommandResult(CommandOutcome.UNKNOWN, reason="timeout before the broker")
        if script is Script.REJECT or old.status.is_terminal:
            return CommandResult(CommandOutcome.REJECTED, reason="order is no longer working")
        left = old.quantity - old.filled_quantity  # the replacement carries what is left
        legs = tuple(replace(leg, quantity=leg.quantity // old.quantity * left) for leg in old.legs)
        new = replace(old, order_id=BrokerOrderId(f"B{next(self._ids)}"), price=price, fills=(),
                      filled_quantity=0, quantity=left, legs=legs,
                      status=OrderStatus.WORKING, replaces_order_id=order_id)
        self.orders[order_id] = replace(old, status=OrderStatus.REPLACED,
                                        replacing_order_id=new.order_id)
        self.orders[new.order_id] = new
        if script is Script.LOST_REPLY:
            return CommandResult(CommandOutcome.UNKNOWN, reason="timeout after send")
        return CommandResult(CommandOutcome.ACCEPTED, new)

    async def cancel(self, order_id: BrokerOrderId) -> CommandResult:
        await asyncio.sleep(0)  # a network round trip: other tasks run meanwhile
        self.cancelled.append(order_id)
        self.calls.append(("cancel", order_id))
        old = self.orders[order_id]
        script = self._next("cancel")
        if script is Script.LOST_ORDER:
            return CommandResult(CommandOutcome.UNKNOWN, reason="timeout before the broker")
        if script is Script.REJECT or old.status.is_terminal:
            return CommandResult(CommandOutcome.REJECTED, reason="order is no longer working")
        snap = self.orders[order_id] = replace(old, status=OrderStatus.CANCELLED)
        if script is Script.LOST_REPLY:
            return CommandResult(CommandOutcome.UNKNOWN, reason="timeout after send")
        return CommandResult(CommandOutcome.ACCEPTED, snap)

    async def get_order(self, order_id: BrokerOrderId) -> OrderSnapshot | None:
        await asyncio.sleep(0)  # a network round trip: other tasks run meanwhile
        return self.orders.get(order_id)

    async def find_order(self, external_id: ExternalOrderId) -> OrderSnapshot | None:
        await asyncio.sleep(0)  # a network round trip: other tasks run meanwhile
        return self.live(external_id)

    async def live_orders(self) -> list[OrderSnapshot]:
        return [o for o in self.orders.values() if not o.status.is_terminal]

    def health(self) -> dict[str, StreamHealth]:
        return {"market": StreamHealth.CONNECTED}
