"""The latest quotes for the legs of the orders being worked, and the spread's mid and natural
from them.

Why: a walk follows the market (each step and each re-price at natural uses the natural of the
moment), and every fill is recorded with the mid and natural at that moment (fill quality).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from tastydesk.engine.domain.chain import Quote, parse_occ, streamer_symbol
from tastydesk.engine.domain.enums import OrderAction, Side
from tastydesk.engine.domain.ids import ExternalOrderId, WorkflowId
from tastydesk.engine.domain.orders import OrderRequest
from tastydesk.engine.domain.pricer import PricedLeg, SpreadPrice, spread_price
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.subscriptions import StreamClaims

STREAM_CLAIM = "order"
Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]

SELLING = frozenset({OrderAction.SELL_TO_OPEN, OrderAction.SELL_TO_CLOSE})


def leg_streamer(occ: str) -> str | None:
    """The streamer symbol of an OCC option symbol; None for anything else (shares)."""
    try:
        return streamer_symbol(*parse_occ(occ))
    except ValueError:
        return None


def order_streamers(request: OrderRequest) -> list[str]:
    return [s for leg in request.legs if (s := leg_streamer(leg.symbol)) is not None]


class LegQuotes:
    """Quotes for the symbols someone asked to watch; nothing else is kept."""

    def __init__(self) -> None:
        self._quotes: dict[str, Quote | None] = {}
        self._watchers: dict[str, set[str]] = {}

    def watch(self, owner: str, symbols: Iterable[str]) -> None:
        for sym in symbols:
            self._watchers.setdefault(sym, set()).add(owner)
            self._quotes.setdefault(sym, None)

    def unwatch(self, owner: str, symbols: Iterable[str]) -> list[str]:
        """Stop watching for ``owner``; returns the symbols nobody watches any more."""
        idle = []
        for sym in symbols:
            owners = self._watchers.get(sym)
            if owners is None:
                continue
            owners.discard(owner)
            if not owners:
                del self._watchers[sym]
                self._quotes.pop(sym, None)
                idle.append(sym)
        return idle

    def update(self, quote: Quote) -> None:
        if quote.symbol in self._quotes:
            self._quotes[quote.symbol] = quote

    def quote(self, streamer: str) -> Quote | None:
        """The latest quote of a watched symbol (None: none yet, or not watched)."""
        return self._quotes.get(streamer)

    def seed(self, quotes: Iterable[Quote]) -> None:
        for q in quotes:
            self.update(q)

    def price(self, request: OrderRequest, units: int) -> SpreadPrice | None:
        """Mid and natural per unit of ``request`` from the latest quotes; None while a leg has
        none."""
        legs = []
        for leg in request.legs:
            sym = leg_streamer(leg.symbol)
            quote = self._quotes.get(sym) if sym else None
            if quote is None or units < 1:
                return None
            side = Side.SELL if leg.action in SELLING else Side.BUY
            legs.append(PricedLeg(side, max(1, leg.quantity // units), quote.bid, quote.ask))
        return spread_price(legs)


class OrderMarket:
    """Streams the legs of every working order (claimed per workflow) and prices them."""

    def __init__(self, broker: BrokerPort, streams: StreamClaims, spawn: Spawn) -> None:
        self._broker = broker
        self._streams = streams
        self._spawn = spawn
        self._quotes = LegQuotes()

    def watch(self, external_id: ExternalOrderId, workflow_id: WorkflowId, request: OrderRequest) -> None:
        symbols = order_streamers(request)
        self._quotes.watch(external_id, symbols)
        self._streams.claim(STREAM_CLAIM, workflow_id, symbols)
        self._spawn(self._broker.subscribe(symbols), "subscribe-order")

    def unwatch(self, external_id: ExternalOrderId, workflow_id: WorkflowId, request: OrderRequest,
                workflow_still_working: bool) -> None:
        symbols = order_streamers(request)
        self._quotes.unwatch(external_id, symbols)
        if not workflow_still_working:
            self._streams.release(STREAM_CLAIM, workflow_id, symbols, "unsubscribe-order")

    def update(self, quote: Quote) -> None:
        self._quotes.update(quote)

    def price(self, request: OrderRequest, units: int) -> SpreadPrice | None:
        return self._quotes.price(request, units)

    def quote(self, streamer: str) -> Quote | None:
        return self._quotes.quote(streamer)
