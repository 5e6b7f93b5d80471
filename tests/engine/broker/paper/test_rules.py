"""The paper broker holds orders to tastytrade's rules: legs, ticks, sessions, halts, time in
force; and the paper market models open interest, beta, dividends and exchange sessions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from tastydesk.engine.broker.paper.broker import PaperBroker
from tastydesk.engine.broker.paper.halts import HaltBook
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.broker.paper.model import PROFILES
from tastydesk.engine.broker.paper.state import PaperState
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import NEW_YORK, MarketCalendar, SimClock
from tastydesk.engine.domain.chain import OptionContract
from tastydesk.engine.domain.enums import CommandOutcome, OrderAction, OrderStatus
from tastydesk.engine.domain.events import OrderUpdated
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest

D = Decimal
MONDAY_10AM = datetime(2026, 1, 5, 10, 0, tzinfo=NEW_YORK).astimezone(UTC)
# The day after Thanksgiving 2026 closes at 13:00 New York.
BLACK_FRIDAY = date(2026, 11, 27)
CALENDAR_2026 = MarketCalendar([date(2026, 11, 26)], {BLACK_FRIDAY: time(13, 0)})


@dataclass
class World:
    clock: SimClock
    market: PaperMarket
    broker: PaperBroker
    events: list[object] = field(default_factory=list)

    def step_to(self, at: datetime, minutes: float = 30) -> None:
        while self.clock.now() < at:
            t = min(at, self.clock.now() + timedelta(minutes=minutes))
            self.market.step(t)
            self.clock.advance(t)

    def step(self, minutes: float = 1) -> None:
        self.step_to(self.clock.now() + timedelta(minutes=minutes), minutes)

    def calls(self, symbol: str, min_dte: int = 7) -> list[OptionContract]:
        expiration = self.market.chain(symbol, min_dte, min_dte + 40).expirations[0]
        return [s.call for s in expiration.strikes]

    def statuses(self, order_id: str) -> list[OrderStatus]:
        return [e.order.status for e in self.events
                if isinstance(e, OrderUpdated) and e.order.order_id == order_id]


async def make_world(start: datetime = MONDAY_10AM, calendar: MarketCalendar | None = None,
                     strict: bool = True, state: PaperState | None = None,
                     symbols: tuple[str, ...] = ("SPY", "AAPL", "TSLA", "TLT")) -> World:
    clock = SimClock(start)
    bus = EventBus()
    market = PaperMarket(bus, clock, calendar or MarketCalendar([]), seed=7, symbols=symbols,
                         halts_per_year=0.0, state=state)
    broker = PaperBroker(market, bus, clock, seed=3, strict_rules=strict, state=state)
    world = World(clock, market, broker)
    bus.subscribe(OrderUpdated, world.events.append)
    await broker.connect()
    return world


def single(contract: OptionContract, price: Decimal, action: OrderAction = OrderAction.BUY_TO_OPEN,
           tif: TimeInForce = TimeInForce.DAY, external_id: str = "x") -> OrderRequest:
    return OrderRequest(contract.underlying, (OrderLeg(contract.symbol, action, 1),), price,
                        external_id, time_in_force=tif)


def ladder(calls: list[OptionContract], legs: int, price: Decimal = D("-1.00")) -> OrderRequest:
    mid = len(calls) // 2
    chosen = calls[mid:mid + legs]
    return OrderRequest(chosen[0].underlying, tuple(
        OrderLeg(c.symbol, OrderAction.BUY_TO_OPEN if i % 2 == 0 else OrderAction.SELL_TO_OPEN, 1)
        for i, c in enumerate(chosen)), price, "ladder")


def dear_call(world: World, symbol: str, above: Decimal = D("4")) -> OptionContract:
    return next(c for c in world.calls(symbol) if c.quote is not None and c.quote.bid > above)


def resting(call: OptionContract) -> Decimal:
    """A debit of half the bid, on every tick table: it never trades."""
    assert call.quote is not None
    return -(call.quote.bid / 2).quantize(D("0.1"))


# -- trading rules ----------------------------------------------------------------------------


async def test_trading_rules_follow_the_exchange_tick_convention() -> None:
    world = await make_world()
    spy = await world.broker.trading_rules("SPY")
    aapl = await world.broker.trading_rules("AAPL")
    other = await world.broker.trading_rules("ZZZZ")
    assert spy.max_legs == aapl.max_legs == 4 and spy.multiplier == 100
    assert spy.option_ticks.tick_for(D("7.50")) == D("0.01")  # SPY: pennies at every price
    assert aapl.option_ticks.tick_for(D("2.99")) == D("0.01")
    assert aapl.option_ticks.tick_for(D("3.00")) == D("0.05")
    assert other.option_ticks.tick_for(D("2.99")) == D("0.05")
    assert other.option_ticks.tick_for(D("3.00")) == D("0.10")
    for rules in (spy, aapl, other):
        assert rules.ticks_for(2).tick_for(D("12.00")) == D("0.01")  # spreads in pennies


async def test_off_tick_single_leg_is_rejected_on_dry_run_place_and_replace() -> None:
    world = await make_world()
    call = dear_call(world, "AAPL")
    assert call.quote is not None
    far = -(call.quote.bid.quantize(D("0.1")) - D("1.00"))  # on tick, far below the bid
    off = far - D("0.02")
    dry = await world.broker.dry_run(single(call, off))
    assert any("tick size 0.05" in e for e in dry.errors), dry.errors
    rejected = await world.broker.place(single(call, off))
    assert rejected.outcome is CommandOutcome.REJECTED and "tick" in rejected.reason
    placed = await world.broker.place(single(call, far))
    assert placed.outcome is CommandOutcome.ACCEPTED, placed.reason
    bad = await world.broker.replace(placed.order.order_id, far - D("0.03"))
    assert bad.outcome is CommandOutcome.REJECTED and "tick" in bad.reason
    assert (await world.broker.get_order(placed.order.order_id)).status is OrderStatus.WORKING
    good = await world.broker.replace(placed.order.order_id, far - D("0.05"))
    assert good.outcome is CommandOutcome.ACCEPTED, good.reason


async def test_spreads_trade_in_pennies_whatever_the_class() -> None:
    world = await make_world()
    calls = world.calls("AAPL")
    dry = await world.broker.dry_run(ladder(calls, 2, D("-3.02")))
    assert not any("tick" in e for e in dry.errors), dry.errors


async def test_more_than_four_legs_or_a_repeated_symbol_is_rejected() -> None:
    world = await make_world()
    calls = world.calls("SPY")
    five = await world.broker.place(ladder(calls, 5))
    assert five.outcome is CommandOutcome.REJECTED
    assert "at most 4 legs (got 5)" in five.reason
    four = await world.broker.dry_run(ladder(calls, 4))
    assert not any("legs" in e for e in four.errors), four.errors
    leg = OrderLeg(calls[40].symbol, OrderAction.BUY_TO_OPEN, 1)
    twice = await world.broker.place(OrderRequest("SPY", (leg, leg), D("-1.00"), "twice"))
    assert twice.outcome is CommandOutcome.REJECTED and "more than one leg" in twice.reason


async def test_without_strict_rules_the_broker_accepts_what_it_did_before() -> None:
    world = await make_world(strict=False)
    five = await world.broker.dry_run(ladder(world.calls("SPY"), 5))
    assert not any("legs" in e for e in five.errors), five.errors
    call = dear_call(world, "AAPL")
    assert call.quote is not None
    dry = await world.broker.dry_run(single(call, -(call.quote.ask + D("0.02"))))
    assert not any("tick" in e for e in dry.errors), dry.errors


# -- sessions and time in force ---------------------------------------------------------------


async def test_day_order_expires_at_the_close_and_a_day_order_after_it_is_rejected() -> None:
    world = await make_world()
    call = dear_call(world, "SPY")
    assert call.quote is not None
    placed = await world.broker.place(single(call, resting(call)))
    order_id = placed.order.order_id
    world.step_to(datetime(2026, 1, 5, 16, 5, tzinfo=NEW_YORK).astimezone(UTC))
    assert world.statuses(order_id)[-1] is OrderStatus.EXPIRED
    late = await world.broker.place(single(call, resting(call), external_id="l"))
    assert late.outcome is CommandOutcome.REJECTED and late.reason == "market closed"
    dry = await world.broker.dry_run(single(call, resting(call)))
    assert "market closed" in dry.warnings


async def test_gtc_order_is_accepted_after_hours_and_survives_a_restart(tmp_path) -> None:
    evening = datetime(2026, 1, 5, 18, 0, tzinfo=NEW_YORK).astimezone(UTC)
    world = await make_world(start=evening, state=PaperState(tmp_path / "paper.db"))
    call = dear_call(world, "SPY")
    assert call.quote is not None
    request = single(call, resting(call), tif=TimeInForce.GTC)
    placed = await world.broker.place(request)
    assert placed.outcome is CommandOutcome.ACCEPTED, placed.reason
    world.step_to(datetime(2026, 1, 7, 16, 30, tzinfo=NEW_YORK).astimezone(UTC), minutes=60)
    assert (await world.broker.get_order(placed.order.order_id)).status is OrderStatus.WORKING
    world.broker.save_state()
    world.market.save_state()
    again = await make_world(start=world.clock.now(), state=PaperState(tmp_path / "paper.db"))
    [live] = await again.broker.live_orders()
    assert live.order_id == placed.order.order_id and live.status is OrderStatus.WORKING
    assert (await again.broker.find_order(request.external_id)) is not None
    again.step_to(datetime(2026, 1, 8, 16, 30, tzinfo=NEW_YORK).astimezone(UTC), minutes=60)
    assert (await again.broker.get_order(live.order_id)).status is OrderStatus.WORKING


async def test_an_early_close_ends_the_session_at_one_pm() -> None:
    start = datetime(2026, 11, 27, 10, 0, tzinfo=NEW_YORK).astimezone(UTC)
    world = await make_world(start=start, calendar=CALENDAR_2026)
    call = dear_call(world, "SPY")
    assert call.quote is not None
    placed = await world.broker.place(single(call, resting(call)))
    world.step_to(datetime(2026, 11, 27, 12, 59, tzinfo=NEW_YORK).astimezone(UTC), minutes=1)
    assert world.statuses(placed.order.order_id)[-1] is OrderStatus.WORKING
    world.step(2)
    assert world.statuses(placed.order.order_id)[-1] is OrderStatus.EXPIRED
    assert world.clock.now() < datetime(2026, 11, 27, 13, 5, tzinfo=NEW_YORK)
    late = await world.broker.place(single(call, resting(call), external_id="l"))
    assert late.outcome is CommandOutcome.REJECTED


def test_calendar_reads_holidays_and_early_closes_from_the_exchange_calendar() -> None:
    cal = MarketCalendar.nyse(2026, 2026)
    assert not cal.is_trading_day(date(2026, 11, 26))  # Thanksgiving
    assert cal.close_time(BLACK_FRIDAY) == time(13, 0)
    assert cal.close_time(date(2026, 12, 24)) == time(13, 0)
    assert cal.close_time(date(2026, 12, 23)) == time(16, 0)
    assert cal.is_open(datetime(2026, 11, 27, 12, 59, tzinfo=NEW_YORK))
    assert not cal.is_open(datetime(2026, 11, 27, 13, 0, tzinfo=NEW_YORK))
    assert cal.session(BLACK_FRIDAY) == (
        datetime(2026, 11, 27, 9, 30, tzinfo=NEW_YORK).astimezone(UTC),
        datetime(2026, 11, 27, 13, 0, tzinfo=NEW_YORK).astimezone(UTC))
    assert cal.session(date(2026, 11, 26)) is None
    assert cal.next_close(datetime(2026, 11, 26, 12, 0, tzinfo=NEW_YORK)) == \
        datetime(2026, 11, 27, 13, 0, tzinfo=NEW_YORK)


# -- halts ------------------------------------------------------------------------------------


async def test_a_halted_underlying_refuses_orders_and_its_working_orders_do_not_trade() -> None:
    world = await make_world()
    call = dear_call(world, "TSLA")
    assert call.quote is not None
    marketable = single(call, -(call.quote.ask + D("0.50")).quantize(D("0.1")))
    world.market.halts.halt("TSLA")
    refused = await world.broker.place(marketable)
    assert refused.outcome is CommandOutcome.REJECTED and "halted" in refused.reason
    world.market.halts.resume("TSLA")
    placed = await world.broker.place(marketable)
    assert placed.outcome is CommandOutcome.ACCEPTED, placed.reason
    world.market.halts.halt("TSLA", until=world.clock.now() + timedelta(minutes=10))
    world.step(5)
    assert world.statuses(placed.order.order_id)[-1] is OrderStatus.WORKING
    world.step(10)
    assert world.statuses(placed.order.order_id)[-1] is OrderStatus.FILLED


def test_seeded_halts_are_rare_reproducible_and_spare_etfs() -> None:
    profiles = [PROFILES[s] for s in ("SPY", "AAPL", "TSLA", "NVDA", "AMZN")]
    days = MarketCalendar([]).trading_days(date(2026, 1, 1), date(2027, 12, 31))
    books = [HaltBook(profiles, MarketCalendar([]), seed) for seed in (1, 1, 2)]
    found = [[(p.symbol, d) for p in profiles for d in days if b.seeded_halt(p.symbol, d)]
             for b in books]
    assert found[0] == found[1] and found[0] != found[2]
    assert all(symbol != "SPY" for symbol, _ in found[0] + found[2])
    assert 1 <= len(found[0]) <= 25  # about one day a year per single name
    symbol, day = found[0][0]
    start, end = books[0].seeded_halt(symbol, day)  # type: ignore[misc]
    assert timedelta(minutes=5) <= end - start <= timedelta(minutes=30)
    assert books[0].is_halted(symbol, start) and not books[0].is_halted(symbol, end)


# -- open interest, beta, dividends ------------------------------------------------------------


async def test_open_interest_falls_away_from_the_money_and_with_time() -> None:
    world = await make_world()
    spot = world.market.spot("SPY")
    chain = world.market.chain("SPY", 0, 200)
    near, far = chain.expirations[1], chain.expirations[-1]

    def total(exp, lo: Decimal, hi: Decimal) -> int:
        return sum(s.call.open_interest + s.put.open_interest for s in exp.strikes
                   if lo <= s.price / spot <= hi)

    assert total(near, D("0.98"), D("1.02")) > 0
    atm = [s.put.open_interest for s in near.strikes if abs(s.price / spot - 1) < D("0.01")]
    wing = [s.put.open_interest for s in near.strikes if s.price / spot < D("0.85")]
    assert sum(atm) / len(atm) > 5 * (sum(wing) / max(len(wing), 1))
    near_atm = max(s.call.open_interest for s in near.strikes)
    far_atm = max(s.call.open_interest for s in far.strikes)
    assert near_atm > far_atm > 0
    contract = world.market.contract(near.strikes[len(near.strikes) // 2].call.symbol)
    assert contract is not None and contract.open_interest == \
        near.strikes[len(near.strikes) // 2].call.open_interest


async def test_beta_is_per_underlying() -> None:
    world = await make_world()
    info = await world.broker.market_metrics(["SPY", "TSLA", "TLT", "AAPL"])
    assert info["SPY"].beta == 1.0
    assert 1.8 <= info["TSLA"].beta <= 2.2
    assert info["TLT"].beta < 0
    assert len({i.beta for i in info.values()}) == 4


async def test_dividends_are_quarterly_for_payers_and_absent_for_others() -> None:
    world = await make_world()
    info = await world.broker.market_metrics(["SPY", "TSLA", "TLT"])
    assert info["SPY"].ex_dividend_date == date(2026, 3, 20)  # third Friday of March
    assert info["SPY"].dividend_amount == D("1.77")  # 590 x 1.2 % / 4
    assert info["TSLA"].ex_dividend_date is None and info["TSLA"].dividend_amount == 0
    assert info["TLT"].ex_dividend_date is not None and info["TLT"].dividend_amount > 0
    dates = world.market.dividends.ex_dates_between("SPY", date(2026, 1, 1), date(2026, 12, 31))
    assert dates == [date(2026, 3, 20), date(2026, 6, 19), date(2026, 9, 18),
                     date(2026, 12, 18)]
    tlt = world.market.dividends.ex_dates_between("TLT", date(2026, 1, 1), date(2026, 12, 31))
    assert len(tlt) == 4 and all(MarketCalendar([]).is_trading_day(d) for d in tlt)


async def test_time_in_force_is_kept_by_replace() -> None:
    world = await make_world()
    call = dear_call(world, "SPY")
    assert call.quote is not None
    request = replace(single(call, resting(call)), time_in_force=TimeInForce.GTC)
    placed = await world.broker.place(request)
    new = await world.broker.replace(placed.order.order_id, request.price - D("0.01"))
    assert new.outcome is CommandOutcome.ACCEPTED, new.reason
    world.step_to(datetime(2026, 1, 5, 16, 30, tzinfo=NEW_YORK).astimezone(UTC))
    assert (await world.broker.get_order(new.order.order_id)).status is OrderStatus.WORKING


@pytest.mark.parametrize("symbol", ["AAPL", "TSLA"])
async def test_paper_quotes_sit_on_the_option_tick(symbol: str) -> None:
    world = await make_world()
    rules = await world.broker.trading_rules(symbol)
    for c in world.calls(symbol):
        assert c.quote is not None
        assert rules.option_ticks.is_on_tick(c.quote.bid), c.quote
        assert rules.option_ticks.is_on_tick(c.quote.ask), c.quote


async def test_the_app_calendar_keeps_early_closes_in_its_cache(tmp_path) -> None:
    from tastydesk.engine.bootstrap import HOLIDAYS_KEY, load_calendar
    from tastydesk.engine.store.service import Store

    store = Store.open(tmp_path / "td.db")
    try:
        first = await load_calendar(store, (2026, 2026))
        cached = await asyncio.to_thread(store.get_config, HOLIDAYS_KEY, None)
        assert cached["early"][BLACK_FRIDAY.isoformat()] == "13:00:00"
        again = await load_calendar(store, (2026, 2026))
    finally:
        store.close()
    for cal in (first, again):
        assert cal.close_time(BLACK_FRIDAY) == time(13, 0)
        assert not cal.is_trading_day(date(2026, 11, 26))
