from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tastydesk.engine.broker.paper.listing import is_expiration_day
from tastydesk.engine.broker.paper.market import DEFAULT_WATCHLIST, PaperMarket
from tastydesk.engine.broker.paper.model import (
    PROFILES,
    REALIZED_TO_IMPLIED,
    Profile,
    UnderlyingModel,
    intraday_tau,
)
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import NEW_YORK, MarketCalendar, SimClock
from tastydesk.engine.domain.chain import OptionChain, parse_occ
from tastydesk.engine.domain.enums import OptionType
from tastydesk.engine.domain.events import GreeksReceived, QuoteReceived
from tastydesk.engine.pricing.bsm import bsm_price

HOLIDAYS_2026 = [
    date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 4, 3), date(2026, 5, 25),
    date(2026, 6, 19), date(2026, 7, 3), date(2026, 9, 7), date(2026, 11, 26),
    date(2026, 12, 25), date(2027, 1, 1), date(2027, 1, 18), date(2027, 2, 15),
    date(2027, 3, 26), date(2027, 5, 31),
]
CALENDAR = MarketCalendar(HOLIDAYS_2026)


def ny(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=NEW_YORK).astimezone(UTC)


def make(start: datetime, seed: int = 1, **kw: object) -> tuple[PaperMarket, EventBus, SimClock]:
    bus = EventBus()
    clock = SimClock(start)
    return PaperMarket(bus, clock, CALENDAR, seed=seed, **kw), bus, clock


def minutes(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(minutes=k + 1) for k in range(count)]


# -- construction and basic queries ----------------------------------------------------------


def test_starting_prices_and_metrics_are_realistic() -> None:
    m, _, _ = make(ny(2026, 3, 2, 10))
    assert m.symbols == DEFAULT_WATCHLIST
    assert m.spot("SPY") == Decimal("590.00")
    assert m.spot("TLT") == Decimal("92.00")
    for sym in DEFAULT_WATCHLIST:
        info = m.underlying(sym)
        assert info.price == m.spot(sym)
        assert Decimal(0) <= info.iv_rank <= Decimal(100)
        assert 0.03 < info.iv < 2.0
        assert -1.0 <= info.trend <= 1.0
        assert 0 <= info.liquidity <= 4
        if PROFILES[sym].etf:
            assert info.earnings is None
        else:
            assert info.earnings is not None
            assert date(2026, 3, 2) <= info.earnings <= date(2026, 6, 2)
            assert CALENDAR.is_trading_day(info.earnings)
    assert m.underlying("NVDA").iv > m.underlying("SPY").iv
    assert m.underlying("NVDA").beta > m.underlying("GLD").beta


def test_bad_input_is_rejected_with_the_field_named() -> None:
    m, _, _ = make(ny(2026, 3, 2, 10))
    with pytest.raises(ValueError, match="symbol"):
        m.spot("ZZZZ")
    with pytest.raises(ValueError, match="symbol"):
        m.chain("ZZZZ")
    with pytest.raises(ValueError, match="min_dte"):
        m.chain("SPY", 40, 20)
    with pytest.raises(ValueError, match="to"):
        m.step(datetime(2026, 3, 2, 11))  # naive
    with pytest.raises(ValueError, match="symbols"):
        PaperMarket(EventBus(), SimClock(ny(2026, 3, 2, 10)), CALENDAR, symbols=())
    with pytest.raises(ValueError, match="symbols"):
        PaperMarket(EventBus(), SimClock(ny(2026, 3, 2, 10)), CALENDAR, symbols=("spy",))
    with pytest.raises(ValueError, match="rate"):
        PaperMarket(EventBus(), SimClock(ny(2026, 3, 2, 10)), CALENDAR, rate=3.0)
    assert m.contract("SPY   260327C00590000") is not None
    assert m.contract("SPY   260326C00590000") is None  # a Thursday that is no expiration
    assert m.contract("XYZ   260327C00590000") is None
    assert m.contract("garbage") is None
    assert m.quote(".SPY260327C590.123") is None
    assert m.greeks("SPY") is None


def test_other_tickers_get_a_stable_synthetic_profile() -> None:
    a, _, _ = make(ny(2026, 3, 2, 10), symbols=("SPY", "ABCD"))
    b, _, _ = make(ny(2026, 3, 2, 10), symbols=("ABCD",))
    assert a.spot("ABCD") == b.spot("ABCD")
    assert a.chain("ABCD", 20, 60).expirations


# -- determinism and paths -------------------------------------------------------------------


def _trace(seed: int) -> list[tuple[Decimal, ...]]:
    m, _, _ = make(ny(2026, 3, 2, 9, 30), seed=seed)
    out = []
    for t in [*minutes(ny(2026, 3, 2, 9, 30), 400), ny(2026, 3, 4, 12), ny(2026, 3, 9, 15)]:
        m.step(t)
        out.append(tuple(m.spot(s) for s in m.symbols))
    chain = m.chain("AAPL", 20, 40)
    out.append(tuple(s.call.quote.bid for e in chain.expirations for s in e.strikes))
    return out


def test_same_seed_and_steps_give_identical_prices() -> None:
    assert _trace(5) == _trace(5)
    assert _trace(5) != _trace(6)


def test_model_returns_have_the_model_volatility() -> None:
    calm = Profile("TEST", 100.0, 0.3, 1.0, 4, 0.0, True, -0.1, 0.02, 0.0, 0.0, 0.0, 0.0, True)
    model = UnderlyingModel([calm, PROFILES["SPY"]], 0.03, np.random.default_rng(11))
    tau = intraday_tau(60.0)
    standardised = []
    for _ in range(20_000):
        sigma = model.implied_atm(0) * REALIZED_TO_IMPLIED
        before = model.log_spot[0]
        model.advance(tau)
        standardised.append((model.log_spot[0] - before) / (sigma * math.sqrt(tau)))
    z = np.array(standardised)
    assert abs(z.std() - 1.0) < 0.03
    assert abs(z.mean()) < 0.03


def test_market_minute_and_daily_returns_match_the_vol_and_vol_rises_on_drops() -> None:
    start = ny(2026, 3, 2, 9, 30)
    m, _, _ = make(start, seed=3)
    closes, ivs = [], []
    minute_z = []
    day = date(2026, 3, 2)
    while len(closes) < 180:
        if CALENDAR.is_trading_day(day):
            for k in range(1, 27):  # 15-minute steps through the session
                prev = math.log(float(m.spot("QQQ")))
                sigma = m.implied_vol(m.symbols[1]) * REALIZED_TO_IMPLIED
                m.step(ny(day.year, day.month, day.day, 9, 30) + timedelta(minutes=15 * k))
                if k > 1:
                    minute_z.append((math.log(float(m.spot("QQQ"))) - prev)
                                    / (sigma * math.sqrt(intraday_tau(900.0))))
            closes.append(float(m.spot("QQQ")))
            ivs.append(m.underlying("QQQ").iv)
        day += timedelta(days=1)
    # Cents rounding and jumps blur the standardised moves a little.
    assert 0.85 < float(np.std(minute_z)) < 1.2
    rets = np.diff(np.log(closes))
    d_iv = np.diff(np.log(ivs))
    assert np.corrcoef(rets, d_iv)[0, 1] < -0.3


# -- listing ---------------------------------------------------------------------------------


def test_weeklies_and_monthlies_skip_weekends_and_holidays() -> None:
    m, _, _ = make(ny(2026, 3, 2, 10))
    exps = m.expirations("SPY")
    dates = [e.date for e in exps]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    for e in exps:
        assert CALENDAR.is_trading_day(e.date)
        assert is_expiration_day(CALENDAR, e.date)
        assert e.dte == (e.date - date(2026, 3, 2)).days
        assert e.strikes == ()
    monthlies = {e.date for e in exps if e.monthly}
    expected = {CALENDAR.third_friday(y, mo) for y, mo in
                [(2026, mo) for mo in range(3, 13)] + [(2027, mo) for mo in range(1, 4)]}
    assert expected <= monthlies
    assert date(2026, 4, 2) in dates  # Good Friday 2026-04-03: the weekly moves to Thursday
    assert date(2026, 4, 3) not in dates
    weekly = [e for e in exps if not e.monthly]
    assert len(weekly) >= 8
    assert max(e.dte for e in exps) >= 330
    assert max(e.dte for e in exps) <= 400
    # Single stocks list fewer weeklies than the index ETFs.
    assert len(m.expirations("GLD")) < len(exps)


def test_strikes_are_on_realistic_increments_and_cover_far_expiries() -> None:
    m, _, _ = make(ny(2026, 3, 2, 10))
    chain = m.chain("SPY")
    near = chain.expirations[1]
    prices = [s.price for s in near.strikes]
    assert prices == sorted(prices)
    steps = {b - a for a, b in itertools.pairwise(prices)}
    assert Decimal(1) in steps
    spot = float(m.spot("SPY"))
    far = chain.expirations[-1]
    assert float(far.strikes[0].price) <= 0.7 * spot
    assert float(far.strikes[-1].price) >= 1.3 * spot
    for e in chain.expirations:
        for s in e.strikes:
            assert s.price == s.price.normalize() or s.price == s.price.quantize(Decimal(1))
            assert "E" not in str(s.price)
            root, expiry, kind, strike = parse_occ(s.call.symbol)
            assert (root, expiry, kind, strike) == ("SPY", e.date, OptionType.CALL, s.price)
            assert s.put.streamer_symbol.startswith(f".SPY{e.date:%y%m%d}P")
            assert s.call.open_interest >= 0 and s.call.volume >= 0


# -- quotes ----------------------------------------------------------------------------------


def _check_no_arbitrage(chain: OptionChain) -> None:
    for e in chain.expirations:
        calls = [s.call for s in e.strikes]
        puts = [s.put for s in e.strikes]
        for c in calls + puts:
            assert c.quote is not None and c.greeks is not None
            assert c.quote.bid >= 0
            assert c.quote.bid < c.quote.ask
            assert c.quote.bid <= Decimal(str(round(c.greeks.price, 2))) + Decimal("0.01")
        cb = [c.quote.bid for c in calls]
        ca = [c.quote.ask for c in calls]
        pb = [p.quote.bid for p in puts]
        pa = [p.quote.ask for p in puts]
        assert cb == sorted(cb, reverse=True) and ca == sorted(ca, reverse=True)
        assert pb == sorted(pb) and pa == sorted(pa)
        theo_c = [c.greeks.price for c in calls]
        theo_p = [p.greeks.price for p in puts]
        assert all(a >= b - 1e-9 for a, b in itertools.pairwise(theo_c))
        assert all(a <= b + 1e-9 for a, b in itertools.pairwise(theo_p))
        for c in calls:
            assert 0 <= c.greeks.delta <= 1
        for p in puts:
            assert -1 <= p.greeks.delta <= 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quotes_have_no_arbitrage(seed: int) -> None:
    m, _, _ = make(ny(2026, 3, 2, 10), seed=seed)
    for when in (ny(2026, 3, 2, 10), ny(2026, 3, 20, 15, 59), ny(2026, 6, 12, 11)):
        m.step(when)
        for sym in ("SPY", "TSLA", "TLT", "GLD"):
            _check_no_arbitrage(m.chain(sym))


def test_surface_has_put_skew_and_spreads_widen_out_of_the_money() -> None:
    m, _, _ = make(ny(2026, 3, 2, 10))
    chain = m.chain("SPY", 25, 50)
    e = chain.expirations[0]
    spot = float(m.spot("SPY"))
    atm = min(e.strikes, key=lambda s: abs(float(s.price) - spot))
    low = min(e.strikes, key=lambda s: abs(float(s.price) - 0.92 * spot))
    high = min(e.strikes, key=lambda s: abs(float(s.price) - 1.05 * spot))
    assert low.put.greeks.iv > atm.put.greeks.iv > high.call.greeks.iv
    rel = lambda c: float(c.quote.spread) / float(c.quote.mid)  # noqa: E731
    assert rel(low.put) > rel(atm.put)
    far = m.chain("SPY", 300, 400).expirations[-1]
    far_atm = min(far.strikes, key=lambda s: abs(float(s.price) - spot))
    assert far_atm.call.quote.spread >= atm.call.quote.spread
    gld = m.chain("GLD", 25, 50).expirations[0]
    gld_atm = min(gld.strikes, key=lambda s: abs(float(s.price) - float(m.spot("GLD"))))
    assert rel(gld_atm.call) > rel(atm.call)  # less liquid name, wider market


def test_chain_quotes_match_the_model_and_single_contract_lookups() -> None:
    m, _, _ = make(ny(2026, 3, 2, 11))
    chain = m.chain("AAPL", 0, 120)
    spot = float(m.spot("AAPL"))
    for e in chain.expirations[::3]:
        for s in e.strikes[::7]:
            for c in (s.call, s.put):
                single = m.contract(c.symbol)
                assert single is not None
                assert single.quote == c.quote
                assert single.greeks.price == pytest.approx(c.greeks.price, rel=1e-9, abs=1e-9)
                assert single.greeks.delta == pytest.approx(c.greeks.delta, rel=1e-9, abs=1e-9)
                assert single.open_interest == c.open_interest
                by_streamer = m.contract(c.streamer_symbol)
                assert by_streamer is not None and by_streamer.symbol == c.symbol
    # Quotes come from BSM on the surface, at the market's close-to-close time to expiry.
    c = chain.expirations[2].strikes[10].call
    t = (CALENDAR.session_close(c.expiry) - ny(2026, 3, 2, 11)).total_seconds() / (365 * 86400)
    theo = bsm_price(spot, float(c.strike), t, 0.04, PROFILES["AAPL"].dividend_yield,
                     c.greeks.iv, True)
    assert c.greeks.price == pytest.approx(float(theo), rel=1e-6)


def test_earnings_lift_the_vol_of_expiries_after_the_report() -> None:
    m, _, _ = make(ny(2026, 3, 2, 10))
    report = m.underlying("MSFT").earnings
    assert report is not None
    chain = m.chain("MSFT", 0, 120)
    spot = float(m.spot("MSFT"))

    def atm_iv(e: object) -> float:
        s = min(e.strikes, key=lambda s: abs(float(s.price) - spot))  # type: ignore[attr-defined]
        return s.call.greeks.iv

    before = [e for e in chain.expirations if e.date <= report]
    after = [e for e in chain.expirations if e.date > report]
    assert before and after
    assert atm_iv(after[0]) > atm_iv(before[-1]) * 1.1


# -- stepping, streaming, closed market ------------------------------------------------------


def test_subscribed_symbols_receive_quotes_and_greeks_after_a_step() -> None:
    start = ny(2026, 3, 2, 10)
    m, bus, _ = make(start)
    quotes: list[QuoteReceived] = []
    greeks: list[GreeksReceived] = []
    bus.subscribe(QuoteReceived, quotes.append)
    bus.subscribe(GreeksReceived, greeks.append)
    strike = m.chain("SPY", 25, 35).expirations[0].strikes[30]
    occ, streamer = strike.call.symbol, strike.put.streamer_symbol
    m.subscribe(["SPY", occ, streamer, "NOPE", ".NOPE260327C10"])  # unknown: no data, no error
    seen: list[datetime] = []
    m.add_step_listener(seen.append)
    t1 = start + timedelta(minutes=1)
    m.step(t1)
    assert {q.quote.symbol for q in quotes} == {"SPY", occ, streamer}
    assert {g.greeks.symbol for g in greeks} == {occ, streamer}
    assert all(q.quote.time == t1 for q in quotes)
    spy = next(q.quote for q in quotes if q.quote.symbol == "SPY")
    assert spy.mid == m.spot("SPY") and spy.bid < spy.ask
    assert next(q.quote for q in quotes if q.quote.symbol == occ) == m.quote(occ)
    assert next(g.greeks for g in greeks if g.greeks.symbol == streamer) == m.greeks(streamer)
    assert seen == [t1]
    # Not later than the last step: nothing happens.
    m.step(t1)
    assert seen == [t1] and len(quotes) == 3
    m.unsubscribe([occ])
    m.step(t1 + timedelta(minutes=1))
    assert len(quotes) == 5 and occ not in {q.quote.symbol for q in quotes[3:]}


def test_prices_freeze_while_closed_and_gap_at_the_open() -> None:
    friday_close = ny(2026, 3, 6, 16)
    m, bus, _ = make(ny(2026, 3, 6, 15, 50))
    m.subscribe(["SPY"])
    got: list[QuoteReceived] = []
    bus.subscribe(QuoteReceived, got.append)
    m.step(friday_close)
    symbol = m.chain("SPY", 10, 20).expirations[0].strikes[20].call.symbol
    frozen_spot = m.spot("SPY")
    frozen_quote = m.contract(symbol).quote
    count = len(got)
    t = friday_close
    while t < ny(2026, 3, 9, 9, 29):
        t += timedelta(minutes=30)
        m.step(min(t, ny(2026, 3, 9, 9, 29)))
        assert m.spot("SPY") == frozen_spot
        q = m.contract(symbol).quote
        assert (q.bid, q.ask) == (frozen_quote.bid, frozen_quote.ask)
    assert len(got) == count  # nothing re-published over the weekend
    m.step(ny(2026, 3, 9, 9, 30))
    assert m.spot("SPY") != frozen_spot
    assert len(got) == count + 1


def test_one_day_step_matches_the_close_and_records_settlement() -> None:
    m, _, _ = make(ny(2026, 3, 19, 10))
    with pytest.raises(ValueError, match="expiry"):
        m.settlement_price("SPY", date(2026, 3, 20))
    m.step(ny(2026, 3, 20, 15, 59))
    before_close = m.spot("SPY")
    m.step(ny(2026, 3, 20, 16, 0))
    close = m.spot("SPY")
    assert m.settlement_price("SPY", date(2026, 3, 20)) == close
    m.step(ny(2026, 3, 23, 12))  # over the weekend into Monday
    assert m.settlement_price("SPY", date(2026, 3, 20)) == close
    assert before_close > 0
    # History before the start is available too (synthetic backfill).
    assert m.settlement_price("SPY", date(2026, 3, 13)) > 0
    with pytest.raises(ValueError, match="expiry"):
        m.settlement_price("SPY", date(2026, 3, 21))  # a Saturday


def test_expired_lists_expirations_whose_close_falls_in_the_window() -> None:
    m, _, _ = make(ny(2026, 3, 2, 10))
    assert m.expired(ny(2026, 3, 20, 15), ny(2026, 3, 20, 16)) == [date(2026, 3, 20)]
    assert m.expired(ny(2026, 3, 20, 16), ny(2026, 3, 20, 17)) == []
    assert m.expired(ny(2026, 3, 19, 12), ny(2026, 3, 20, 15, 59)) == []
    assert m.expired(ny(2026, 3, 30), ny(2026, 4, 11)) == [date(2026, 4, 2), date(2026, 4, 10)]
    assert m.expired(ny(2026, 4, 11), ny(2026, 3, 30)) == []


def test_expired_options_price_at_intrinsic_after_the_close() -> None:
    m, _, _ = make(ny(2026, 3, 16, 10))
    e = m.chain("QQQ", 4, 4).expirations[0]
    assert e.date == date(2026, 3, 20)
    call = e.strikes[5].call.symbol
    m.step(ny(2026, 3, 20, 16, 0))
    settle = m.settlement_price("QQQ", date(2026, 3, 20))
    c = m.contract(call)
    intrinsic = max(Decimal(0), settle - c.strike)
    assert c.greeks.price == pytest.approx(float(intrinsic), abs=0.006)
    assert c.greeks.gamma == 0.0 and c.greeks.theta == 0.0


def test_volume_accumulates_through_the_session() -> None:
    m, _, _ = make(ny(2026, 3, 2, 9, 31))
    strike = m.chain("SPY", 3, 6).expirations[0].strikes[40]
    early = m.contract(strike.call.symbol).volume
    m.step(ny(2026, 3, 2, 15, 30))
    late = m.contract(strike.call.symbol).volume
    assert late > early >= 0
    assert m.contract(strike.call.symbol).open_interest == strike.call.open_interest > 0


def test_chain_is_shared_within_a_step_and_repriced_after_it() -> None:
    start = ny(2026, 3, 2, 10)
    m, _, _ = make(start)
    first = m.chain("SPY", 20, 40)
    assert m.chain("SPY", 20, 40) is first
    m.step(start + timedelta(minutes=5))
    second = m.chain("SPY", 20, 40)
    assert second is not first and second.as_of == start + timedelta(minutes=5)
    assert [e.date for e in second.expirations] == [e.date for e in first.expirations]
    assert any(a.call.quote != b.call.quote
               for ea, eb in zip(first.expirations, second.expirations, strict=True)
               for a, b in zip(ea.strikes, eb.strikes, strict=True))


def test_a_new_subscription_gets_one_quote_even_while_closed() -> None:
    saturday = ny(2026, 3, 7, 12)
    m, bus, _ = make(saturday)
    got: list[QuoteReceived] = []
    bus.subscribe(QuoteReceived, got.append)
    option = m.chain("IWM", 10, 20).expirations[0].strikes[5].put.symbol
    m.subscribe(["IWM", option])
    m.step(saturday + timedelta(hours=1))
    assert sorted(q.quote.symbol for q in got) == sorted(["IWM", option])
    m.step(saturday + timedelta(hours=2))
    assert len(got) == 2
    # The weekend quote is Friday's close.
    assert m.settlement_price("IWM", date(2026, 3, 6)) == m.spot("IWM")
