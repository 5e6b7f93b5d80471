from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from tastydesk.engine.broker.paper.broker import BALANCE_EVERY, PaperBroker
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import NEW_YORK, MarketCalendar, SimClock
from tastydesk.engine.domain.enums import CommandOutcome, OrderAction
from tastydesk.engine.domain.events import BalanceUpdated, GreeksReceived, QuoteReceived
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest

START = datetime(2026, 3, 2, 10, 0, tzinfo=NEW_YORK).astimezone(UTC)
CALENDAR = MarketCalendar([])


def test_streamed_batch_matches_one_by_one_pricing_across_names() -> None:
    bus = EventBus()
    streamed = PaperMarket(bus, SimClock(START), CALENDAR, seed=2)
    lookup = PaperMarket(EventBus(), SimClock(START), CALENDAR, seed=2)
    symbols = []
    for name in ("SPY", "AAPL", "TSLA", "TLT", "GLD"):
        chain = streamed.chain(name, 0, 120)
        for exp in (chain.expirations[0], chain.expirations[-1]):  # incl. an expiring series
            for strike in (exp.strikes[0], exp.strikes[len(exp.strikes) // 2], exp.strikes[-1]):
                symbols += [strike.call.streamer_symbol, strike.put.symbol]
    quotes: dict[str, QuoteReceived] = {}
    greeks: dict[str, GreeksReceived] = {}
    bus.subscribe(QuoteReceived, lambda e: quotes.__setitem__(e.quote.symbol, e))
    bus.subscribe(GreeksReceived, lambda e: greeks.__setitem__(e.greeks.symbol, e))
    streamed.subscribe(symbols)
    # To the close, the next days, and past the close of the first expiry (priced at intrinsic).
    for minutes in (1, 5, 60 * 6, 60 * 24, 60 * 24 * 4 + 1, 60 * 24 * 4 + 60 * 6 + 1):
        at = START + timedelta(minutes=minutes)
        streamed.step(at)
        lookup.step(at)
        assert set(quotes) == set(symbols)
        for sym in symbols:
            one = lookup.contract(sym)  # never subscribed: priced on its own
            assert one is not None and one.greeks is not None and one.quote is not None
            assert quotes[sym].quote.time == at
            assert (quotes[sym].quote.bid, quotes[sym].quote.ask) == (one.quote.bid,
                                                                      one.quote.ask)
            assert quotes[sym].quote.bid_size == one.quote.bid_size
            g = greeks[sym].greeks
            assert g.price == pytest.approx(one.greeks.price, rel=1e-9, abs=1e-9)
            assert g.delta == pytest.approx(one.greeks.delta, rel=1e-9, abs=1e-9)
            assert g.iv == pytest.approx(one.greeks.iv, rel=1e-12)
            assert streamed.mid(sym) == one.quote.mid
        quotes.clear()
        greeks.clear()


async def test_balance_streams_on_changes_and_otherwise_every_fifteen_minutes() -> None:
    clock = SimClock(START)
    bus = EventBus()
    market = PaperMarket(bus, clock, CALENDAR, seed=4)
    broker = PaperBroker(market, bus, clock, seed=4)
    balances: list[BalanceUpdated] = []
    bus.subscribe(BalanceUpdated, balances.append)
    await broker.connect()

    def step(minutes: float) -> None:
        at = clock.now() + timedelta(minutes=minutes)
        clock.advance(at)
        market.step(at)

    step(5)
    assert balances == []  # nothing held, nothing changed
    call = market.chain("SPY", 20, 40).expirations[0].strikes[40].call
    assert call.quote is not None
    price = -(call.quote.ask + Decimal("0.10"))
    result = await broker.place(OrderRequest("SPY", (OrderLeg(call.symbol,
                                                              OrderAction.BUY_TO_OPEN, 1),),
                                             price, "b1"))
    assert result.outcome is CommandOutcome.ACCEPTED
    step(1)
    assert len(balances) == 1  # the fill
    filled_at = clock.now()
    for _ in range(40):
        step(1)
    times = [b.balance.updated_at for b in balances]
    assert times[0] == filled_at
    gaps = [b - a for a, b in pairwise(times)]
    assert gaps and all(gap == BALANCE_EVERY for gap in gaps)
    fresh = broker.current_balance()
    assert balances[-1].balance.cash == fresh.cash
    mark = market.mid(call.symbol)
    assert mark is not None and fresh.net_liquidating_value == fresh.cash + mark * 100
