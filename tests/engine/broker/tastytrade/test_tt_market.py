"""Market data through the adapter: DXLink quotes and greeks, chain, metrics."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tastydesk.engine.domain.enums import OptionType
from tastydesk.engine.domain.events import GreeksReceived, QuoteReceived


async def test_quotes_and_greeks_for_subscribed_symbols_only(tt_harness):
    h = tt_harness
    chain = await h.broker.option_chain("SPY", 7, 30)
    contract = chain.expirations[0].strikes[12].call
    await h.broker.subscribe(["SPY", contract.streamer_symbol])
    await h.recorder.wait_for(lambda: h.recorder.of(GreeksReceived)
                              and len({q.quote.symbol for q in h.recorder.of(QuoteReceived)}) == 2)
    greeks = h.recorder.of(GreeksReceived)[-1].greeks
    assert greeks.symbol == contract.streamer_symbol and 0 < greeks.delta < 1 and greeks.iv > 0
    spy = next(q.quote for q in h.recorder.of(QuoteReceived) if q.quote.symbol == "SPY")
    assert spy.bid < spy.ask and spy.bid_size == 10
    h.fake.push_quote("AAPL", Decimal("1"), Decimal("2"))  # not subscribed: never delivered
    await h.broker.unsubscribe(["SPY"])
    await h.settle()
    count = len(h.recorder.of(QuoteReceived))
    h.fake.push_quote("SPY", Decimal("500"), Decimal("500.10"))
    await h.settle()
    assert len(h.recorder.of(QuoteReceived)) == count
    assert all(q.quote.symbol != "AAPL" for q in h.recorder.of(QuoteReceived))
    refreshed = await h.broker.option_chain("SPY", 7, 30)
    cached = refreshed.contract(contract.symbol)
    assert cached.quote is not None and cached.greeks is not None  # latest known values


async def test_subscriptions_are_chunked(tt_factory):
    from tastydesk.engine.broker.tastytrade.streams import StreamSettings

    h = tt_factory(stream_settings=StreamSettings(backoff_initial=0.02, backoff_max=0.2,
                                                  stale_after=2.0, heartbeat=0.5,
                                                  chunk_size=7))
    await h.broker.connect()
    try:
        chain = await h.broker.option_chain("SPY", 0, 60)
        symbols = [s.call.streamer_symbol for e in chain.expirations for s in e.strikes][:30]
        conn = next(c for c in h.fake._conns if c.kind == "dxlink")
        await h.broker.subscribe(symbols)
        await h.recorder.wait_for(lambda: len(h.recorder.of(GreeksReceived)) >= 30)
        options = {sub for sub in conn.subs if sub[0] != "Candle"}  # the chain's trend: candles
        assert len(options) == 90  # Quote, Greeks and Summary per option symbol
        added = sum(conn.added) - len(conn.subs - options)
        assert max(conn.added) <= 7 and added == 90
        await h.broker.subscribe(symbols[:5])  # already subscribed: nothing is sent
        await h.settle()
        assert sum(conn.added) - len(conn.subs - options) == 90
    finally:
        await h.broker.close()


async def test_option_chain_window_and_shape(tt_harness):
    h = tt_harness
    chain = await h.broker.option_chain("spy", 5, 40)
    assert chain.underlying.symbol == "SPY" and chain.underlying.price == Decimal("600.00")
    assert chain.expirations and all(5 <= e.dte <= 40 for e in chain.expirations)
    assert [e.date for e in chain.expirations] == sorted(e.date for e in chain.expirations)
    exp = chain.expirations[0]
    prices = [s.price for s in exp.strikes]
    assert prices == sorted(prices)
    strike = exp.strikes[0]
    assert strike.call.option_type is OptionType.CALL and strike.put.option_type is OptionType.PUT
    assert strike.call.symbol.startswith("SPY   ") and strike.call.streamer_symbol.startswith(".SPY")
    assert any(e.monthly for e in chain.expirations) or len(chain.expirations) < 5


async def test_listed_expirations_without_strikes(tt_harness):
    h = tt_harness
    listed = await h.broker.expirations(" spy ")
    chain = await h.broker.option_chain("SPY", 0, 2000)
    assert listed and all(not e.strikes for e in listed)
    assert [(e.date, e.dte, e.monthly, e.settlement) for e in listed] == \
        [(e.date, e.dte, e.monthly, e.settlement) for e in chain.expirations]
    # A scan reads the listing, then the chain: one request serves both.
    assert h.fake.count("GET", "/option-chains/SPY/nested") == 1


async def test_market_metrics_carry_real_beta_and_dividends(tt_harness):
    info = await tt_harness.broker.market_metrics(["SPY", "AAPL", "TSLA", "TLT", "NOPE"])
    today = tt_harness.fake.market.today
    assert set(info) == {"SPY", "AAPL", "TSLA", "TLT"}
    assert info["AAPL"].iv_rank == Decimal("34.500") and info["AAPL"].earnings is not None
    assert info["SPY"].price == Decimal("600.00") and info["SPY"].liquidity == 4
    assert info["SPY"].iv == 0.16
    assert info["TSLA"].beta == 2.05 and info["TLT"].beta == -0.27 and info["SPY"].beta == 1.0
    # dividend-ex-date is the last (past) one; the coming one is dividend-next-date
    assert info["SPY"].ex_dividend_date == today + timedelta(days=14)
    assert info["SPY"].dividend_amount == Decimal("1.76")
    assert info["TLT"].ex_dividend_date == today + timedelta(days=5)
    assert info["TSLA"].ex_dividend_date is None and info["TSLA"].dividend_amount == 0


async def test_user_agent_and_order_tags(tt_harness):
    from tastydesk import __version__

    h = tt_harness
    request = h.spread()
    await h.broker.place(request)
    order = next(iter(h.fake.orders.values()))
    assert order["external-identifier"] == request.external_id
    assert order["source"] == "tastydesk"
    assert h.fake.user_agents == {f"tastydesk/{__version__}"}


async def test_a_live_chain_carries_streamed_open_interest(tt_factory):
    h = tt_factory(chain_wait_s=3.0)
    await h.broker.connect()
    try:
        chain = await h.broker.option_chain("SPY", 7, 40)
        exp = chain.expirations[0]
        spot = chain.underlying.price
        atm = min(exp.strikes, key=lambda s: abs(s.price - spot))
        far = exp.strikes[0]
        assert atm.put.open_interest > 0 and atm.call.open_interest > 0
        assert atm.put.open_interest > far.put.open_interest  # falls away from the money
        listing = h.fake.market.listing(atm.put.symbol)
        assert atm.put.open_interest == h.fake.market.open_interest(listing)
        conn = next(c for c in h.fake._conns if c.kind == "dxlink")
        assert ("Summary", atm.put.streamer_symbol) in conn.subs
    finally:
        await h.broker.close()


async def test_trend_from_daily_candles_matches_the_shared_formula(tt_factory):
    from tastydesk.engine.domain.trend import trend_signal
    from tests.fake_tastytrade.instruments import daily_closes
    from tests.fake_tastytrade.market import VOLS

    h = tt_factory(chain_wait_s=3.0)
    await h.broker.connect()
    try:
        info = await h.broker.market_metrics(["SPY", "TLT", "TSLA"])
        assert info["SPY"].trend > 0.2 and info["TSLA"].trend > 0.2 and info["TLT"].trend < -0.2
        market = h.fake.market
        closes = [c for _, c in daily_closes("SPY", market.spots["SPY"], market.today)]
        assert info["SPY"].trend == pytest.approx(trend_signal(closes[-50:], VOLS["SPY"]))
        conn = next(c for c in h.fake._conns if c.kind == "dxlink")
        assert ("Candle", "SPY{=1d,tho=true}") in conn.subs
        again = await h.broker.market_metrics(["SPY"])
        assert again["SPY"].trend == info["SPY"].trend
        assert sum(1 for s in conn.subs if s[0] == "Candle") == 3  # subscribed once each
    finally:
        await h.broker.close()

