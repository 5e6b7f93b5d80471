"""The pricing-anomaly failsafe on the price walk: a working order is not re-priced from quotes
that look wrong.

Why: the walk re-prices each step from the legs' quotes of the moment (the natural it steps
toward). A bid that vanished, a crossed or inverted market, a spread far too wide for its price
or a jump far beyond the recent range would send a replace at a price the market never offered.
While any leg's quote fails a check of :mod:`tastydesk.engine.execution_pricing.anomaly`, the
step waits: the order keeps its current price, nothing is replaced, the trader is alerted once
with the reason and the order's timeline says so; the walk goes on when the quotes are sane.
A leg without a quote is no anomaly here: the walk then uses the last prices it knew.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.chain import Quote, parse_occ
from tastydesk.engine.domain.enums import AlertCategory, AlertLevel
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.ids import ExternalOrderId
from tastydesk.engine.domain.orders import OrderRequest
from tastydesk.engine.domain.records import OrderRecord
from tastydesk.engine.execution_pricing.anomaly import (
    DEFAULT_LIMITS,
    DESCRIPTIONS,
    AnomalyLimits,
    LegQuote,
    QuoteAnomaly,
    quote_anomaly,
    spread_figures,
)
from tastydesk.engine.orders.market import SELLING, leg_streamer
from tastydesk.engine.orders.working import WorkingOrder
from tastydesk.engine.store.service import AsyncStore

RECENT_STEPS = 8  # mids of the last steps an order's jump check compares with
QuoteOf = Callable[[str], Quote | None]


def order_leg_quotes(request: OrderRequest, units: int, quote_of: QuoteOf
                     ) -> list[LegQuote] | None:
    """The order's legs from our side (+1 sold, -1 bought) with their latest quotes, per unit;
    None while a leg has no quote or is not an option (nothing to screen)."""
    legs = []
    for leg in request.legs:
        sym = leg_streamer(leg.symbol)
        quote = quote_of(sym) if sym is not None else None
        if quote is None or units < 1:
            return None
        _root, expiry, kind, strike = parse_occ(leg.symbol)
        legs.append(LegQuote(1 if leg.action in SELLING else -1, max(1, leg.quantity // units),
                             quote.bid, quote.ask, kind, strike, expiry))
    return legs


def screen(legs: Sequence[LegQuote], recent_mids: deque[float],
           limits: AnomalyLimits = DEFAULT_LIMITS) -> QuoteAnomaly | None:
    """The anomaly of ``legs`` against the ``recent_mids`` before them. Their mid then joins the
    window when it is a price at all: sane, or a jump (so a genuine move passes on the next
    step); the mid of a crossed, inverted, zero-bid or too wide market does not (else the
    return to sane quotes would look like a jump)."""
    found = quote_anomaly(legs, tuple(recent_mids), limits)
    figures = spread_figures(legs)
    if figures is not None and found in (None, QuoteAnomaly.JUMP):
        recent_mids.append(figures[0])
    return None if found is QuoteAnomaly.NO_QUOTE else found


class OrderQuoteCheck:
    """Screens the quotes each step of a working order would be priced from (see the module
    docstring); remembers per order its recent mids and the anomaly it was alerted about."""

    def __init__(self, quote_of: QuoteOf, store: AsyncStore, bus: EventBus, clock: Clock,
                 record: Callable[[OrderRecord], OrderRecord]) -> None:
        self._quote_of = quote_of
        self._store = store
        self._bus = bus
        self._clock = clock
        self._record = record
        self._recent: dict[ExternalOrderId, deque[float]] = {}
        self._flagged: dict[ExternalOrderId, QuoteAnomaly] = {}

    async def held(self, working: WorkingOrder, order: OrderRecord) -> bool:
        """Whether this step of ``working`` must wait (its quotes fail the failsafe). The first
        step held for a reason alerts the trader and writes the reason on the order's timeline
        (its status unchanged); later steps held for the same reason stay quiet."""
        ext = working.external_id
        legs = order_leg_quotes(working.request, working.units, self._quote_of)
        if legs is None:
            return False
        found = screen(legs, self._recent.setdefault(ext, deque(maxlen=RECENT_STEPS)))
        if found is None:
            self._flagged.pop(ext, None)
            return False
        if self._flagged.get(ext) is found:
            return True
        self._flagged[ext] = found
        why = (f"price step held at {working.price}: quotes ignored: {DESCRIPTIONS[found]} "
               f"({found.value}); the walk goes on when the quotes are sane")
        now = self._clock.now()
        self._record(await self._store.update_order(ext, order.status, now, detail=why))
        self._bus.publish(Alert(AlertLevel.WARNING, AlertCategory.RULE,
                                f"{order.underlying}: order not re-priced", why, now,
                                working.workflow_id))
        return True

    def forget(self, external_id: ExternalOrderId) -> None:
        """The order is no longer worked."""
        self._recent.pop(external_id, None)
        self._flagged.pop(external_id, None)
