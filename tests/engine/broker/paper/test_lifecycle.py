"""Expiration, exercise, assignment (at expiry and early) and dividends on the paper account,
by the OCC's rules, to the cent; reported as lifecycle transactions and position updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tastydesk.engine.broker.paper.broker import PaperBroker
from tastydesk.engine.broker.paper.market import PaperMarket
from tastydesk.engine.broker.paper.model import stable_unit
from tastydesk.engine.broker.paper.settlement import EARLY_CALL_CHANCE
from tastydesk.engine.broker.paper.state import PaperState
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import NEW_YORK, MarketCalendar, SimClock
from tastydesk.engine.domain.chain import Expiration, OptionContract
from tastydesk.engine.domain.enums import CommandOutcome, OrderAction, OrderStatus
from tastydesk.engine.domain.events import BalanceUpdated, PositionUpdated
from tastydesk.engine.domain.lifecycle import LifecycleEvent, LifecycleKind, LifecycleOccurred
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest

D = Decimal
MONDAY_10AM = datetime(2026, 1, 5, 10, 0, tzinfo=NEW_YORK).astimezone(UTC)
BROKER_SEED = 3
K = LifecycleKind


@dataclass
class World:
    clock: SimClock
    market: PaperMarket
    broker: PaperBroker
    events: list[object] = field(default_factory=list)

    def step_to(self, at: datetime, minutes: float = 60) -> None:
        while self.clock.now() < at:
            t = min(at, self.clock.now() + timedelta(minutes=minutes))
            self.market.step(t)
            self.clock.advance(t)

    def lifecycle(self) -> list[LifecycleEvent]:
        return [e.event for e in self.events if isinstance(e, LifecycleOccurred)]

    def cash(self) -> Decimal:
        return self.broker.current_balance().cash


async def make_world(start: datetime = MONDAY_10AM, symbols: tuple[str, ...] = ("SPY",),
                     state: PaperState | None = None) -> World:
    clock = SimClock(start)
    bus = EventBus()
    market = PaperMarket(bus, clock, MarketCalendar([]), seed=7, symbols=symbols,
                         halts_per_year=0.0, state=state)
    broker = PaperBroker(market, bus, clock, seed=BROKER_SEED, starting_cash=D("1000000"),
                         state=state)
    world = World(clock, market, broker)
    for kind in (LifecycleOccurred, PositionUpdated, BalanceUpdated):
        bus.subscribe(kind, world.events.append)
    await broker.connect()
    return world


def near(exp: Expiration, target: Decimal, put: bool) -> OptionContract:
    strike = min(exp.strikes, key=lambda s: abs(s.price - target))
    return strike.put if put else strike.call


async def trade(world: World, contract: OptionContract, action: OrderAction,
                quantity: int = 1) -> None:
    """A marketable single-leg order (half a dollar through the touch), filled at the next
    step."""
    q = world.market.contract(contract.symbol).quote  # type: ignore[union-attr]
    assert q is not None
    selling = action in (OrderAction.SELL_TO_OPEN, OrderAction.SELL_TO_CLOSE)
    price = q.bid - D("0.50") if selling else -(q.ask + D("0.50"))
    result = await world.broker.place(OrderRequest(
        contract.underlying, (OrderLeg(contract.symbol, action, quantity),), price,
        f"{contract.symbol}-{action.value}"))
    assert result.outcome is CommandOutcome.ACCEPTED, result.reason
    world.step_to(world.clock.now() + timedelta(minutes=1), minutes=1)
    order = await world.broker.get_order(result.order.order_id)  # type: ignore[union-attr]
    assert order is not None and order.status is OrderStatus.FILLED


def after_close(day: date, minutes: int = 30) -> datetime:
    return (datetime(day.year, day.month, day.day, 16, 0, tzinfo=NEW_YORK)
            + timedelta(minutes=minutes)).astimezone(UTC)


# -- expiration ------------------------------------------------------------------------------


async def test_each_kind_of_expiry_is_booked_to_the_cent() -> None:
    world = await make_world()
    exp = world.market.chain("SPY", 0, 7).expirations[0]
    spot = world.market.spot("SPY")
    short_put = near(exp, spot * D("1.03"), put=True)  # under 5 %: no early assignment
    short_call = near(exp, spot * D("0.92"), put=False)
    long_put = near(exp, spot * D("1.10"), put=True)
    long_call = near(exp, spot * D("0.90"), put=False)
    far_otm = near(exp, spot * D("1.15"), put=False)
    await trade(world, short_put, OrderAction.SELL_TO_OPEN)
    await trade(world, short_call, OrderAction.SELL_TO_OPEN, 2)
    await trade(world, long_put, OrderAction.BUY_TO_OPEN)
    await trade(world, long_call, OrderAction.BUY_TO_OPEN)
    await trade(world, far_otm, OrderAction.BUY_TO_OPEN)
    before = world.cash()
    world.step_to(after_close(exp.date))
    settle = world.market.settlement_price("SPY", exp.date)
    assert long_call.strike < short_call.strike < settle < short_put.strike < long_put.strike
    assert settle < far_otm.strike
    events = world.lifecycle()
    removals = {e.symbol: e for e in events if e.kind is not K.SHARES_DELIVERED}
    assert removals[short_put.symbol].kind is K.ASSIGNED
    assert removals[short_put.symbol].quantity == 1
    assert removals[short_call.symbol].kind is K.ASSIGNED
    assert removals[short_call.symbol].quantity == 2
    assert removals[long_put.symbol].kind is K.EXERCISED
    assert removals[long_put.symbol].quantity == -1
    assert removals[long_call.symbol].kind is K.EXERCISED
    assert removals[far_otm.symbol].kind is K.EXPIRED
    assert all(e.value == 0 and not e.early for e in removals.values())
    deliveries = [e for e in events if e.kind is K.SHARES_DELIVERED]
    assert [(e.quantity, e.price, e.value) for e in deliveries] == [
        (100, short_put.strike, -100 * short_put.strike),  # short put: buy 100 at the strike
        (-200, short_call.strike, 200 * short_call.strike),  # short calls: sell 200
        (-100, long_put.strike, 100 * long_put.strike),  # long put: sell 100
        (100, long_call.strike, -100 * long_call.strike),  # long call: buy 100
    ]
    expected = (-short_put.strike + 2 * short_call.strike + long_put.strike
                - long_call.strike) * 100
    assert world.cash() - before == expected
    assert sum(e.value for e in events) == expected
    [shares] = await world.broker.positions()
    assert shares.symbol == "SPY" and shares.quantity == 100 - 200 - 100 + 100 == -100
    assert shares.multiplier == 1 and shares.underlying == "SPY"
    updated = {e.position.symbol: e.position.quantity for e in world.events
               if isinstance(e, PositionUpdated)}
    assert updated["SPY"] == -100 and updated[far_otm.symbol] == 0
    assert any(isinstance(e, BalanceUpdated) for e in world.events)
    assert await world.broker.lifecycle_events(None) == events


async def test_index_options_settle_in_cash() -> None:
    world = await make_world(symbols=("SPX",))
    exp = world.market.chain("SPX", 0, 7).expirations[0]
    spot = world.market.spot("SPX")
    call = near(exp, spot * D("0.90"), put=False)
    await trade(world, call, OrderAction.BUY_TO_OPEN)
    before = world.cash()
    world.step_to(after_close(exp.date))
    intrinsic = world.market.settlement_price("SPX", exp.date) - call.strike
    [event] = world.lifecycle()
    assert event.kind is K.CASH_SETTLED and event.price == intrinsic > 0
    assert event.value == intrinsic * 100 == world.cash() - before
    assert await world.broker.positions() == []


# -- early assignment and dividends -------------------------------------------------------------


async def test_short_call_is_assigned_before_the_ex_date_and_pays_the_dividend() -> None:
    # SPY goes ex 1.77 on Friday 20 March 2026; the day before is Thursday 19 March.
    world = await make_world(start=datetime(2026, 3, 16, 10, 0, tzinfo=NEW_YORK).astimezone(UTC))
    info = world.market.underlying("SPY")
    assert info.ex_dividend_date == date(2026, 3, 20) and info.dividend_amount == D("1.77")
    exp = next(e for e in world.market.chain("SPY", 7, 30).expirations
               if e.date > date(2026, 3, 20))
    spot = world.market.spot("SPY")
    calls = [near(exp, spot * pct, put=False) for pct in (D("0.85"), D("0.88"), D("0.91"))]
    for call in calls:
        await trade(world, call, OrderAction.SELL_TO_OPEN)
    before = world.cash()
    world.step_to(datetime(2026, 3, 20, 10, 0, tzinfo=NEW_YORK).astimezone(UTC))
    thursday = date(2026, 3, 19)
    spot_close = world.market.settlement_price("SPY", thursday)
    assigned = {e.symbol for e in world.lifecycle() if e.kind is K.ASSIGNED}
    for call in calls:
        draw = stable_unit(f"{BROKER_SEED}:early:{call.symbol}:{thursday.isoformat()}")
        assert (call.symbol in assigned) == (draw < EARLY_CALL_CHANCE and spot_close > call.strike)
    assert assigned, "deep in-the-money calls with little extrinsic value are assigned"
    early = [e for e in world.lifecycle() if e.kind is not K.DIVIDEND]
    assert all(e.early and e.time < datetime(2026, 3, 19, 17, 0, tzinfo=NEW_YORK) for e in early)
    [dividend] = [e for e in world.lifecycle() if e.kind is K.DIVIDEND]
    short_shares = -100 * len(assigned)
    assert dividend.symbol == "SPY" and dividend.price == D("1.77")
    assert dividend.value == D("1.77") * short_shares  # charged on the short shares
    assert dividend.time >= datetime(2026, 3, 20, 9, 30, tzinfo=NEW_YORK)
    strikes = sum((c.strike for c in calls if c.symbol in assigned), D(0))
    assert world.cash() - before == strikes * 100 + dividend.value


async def test_deep_in_the_money_short_put_near_expiry_can_be_assigned_early() -> None:
    world = await make_world()
    exp = next(e for e in world.market.chain("SPY", 3, 6).expirations)
    spot = world.market.spot("SPY")
    puts = [near(exp, spot * pct, put=True) for pct in (D("1.12"), D("1.14"), D("1.16"),
                                                       D("1.18"), D("1.20"))]
    for put in puts:
        await trade(world, put, OrderAction.SELL_TO_OPEN)
    before = world.cash()
    world.step_to(after_close(exp.date))
    events = world.lifecycle()
    early = [e for e in events if e.kind is K.ASSIGNED and e.early]
    assert early, "some deep in-the-money puts are assigned before expiry"
    assert all(e.time < after_close(exp.date, 0) for e in early)
    assert {e.symbol for e in events if e.kind is K.ASSIGNED} == {p.symbol for p in puts}
    [shares] = await world.broker.positions()
    assert shares.quantity == 500
    assert world.cash() - before == -sum((p.strike for p in puts), D(0)) * 100


async def test_dividends_are_paid_on_long_shares_held_on_the_ex_date() -> None:
    world = await make_world(start=datetime(2026, 3, 18, 10, 0, tzinfo=NEW_YORK).astimezone(UTC))
    quote = world.market.quote("SPY")
    assert quote is not None
    limit = quote.ask + D("1.00")  # through the touch: fills at the next step, at the limit
    bought = await world.broker.place(OrderRequest(
        "SPY", (OrderLeg("SPY", OrderAction.BUY_TO_OPEN, 300),), -limit, "shares"))
    assert bought.outcome is CommandOutcome.ACCEPTED, bought.reason
    world.step_to(world.clock.now() + timedelta(minutes=1), minutes=1)
    [shares] = await world.broker.positions()
    assert shares.quantity == 300 and shares.average_open_price == limit
    before = world.cash()
    world.step_to(datetime(2026, 3, 20, 12, 0, tzinfo=NEW_YORK).astimezone(UTC))
    [dividend] = world.lifecycle()
    assert dividend.kind is K.DIVIDEND and dividend.value == D("531.00")  # 300 x 1.77
    assert world.cash() - before == D("531.00")


# -- share orders --------------------------------------------------------------------------------


async def test_share_orders_close_delivered_shares_without_commission() -> None:
    world = await make_world()
    quote = world.market.quote("SPY")
    assert quote is not None
    buy = await world.broker.place(OrderRequest(
        "SPY", (OrderLeg("SPY", OrderAction.BUY_TO_OPEN, 100),), -(quote.ask + 1), "buy"))
    assert buy.outcome is CommandOutcome.ACCEPTED, buy.reason
    world.step_to(world.clock.now() + timedelta(minutes=1), minutes=1)
    fees_before = world.broker.fees_paid
    too_many = await world.broker.dry_run(OrderRequest(
        "SPY", (OrderLeg("SPY", OrderAction.SELL_TO_CLOSE, 101),), quote.bid, "x"))
    assert any("exceeds the long position of 100" in e for e in too_many.errors)
    quote = world.market.quote("SPY")
    assert quote is not None
    cash = world.cash()
    limit = quote.bid - 1
    sell = await world.broker.place(OrderRequest(
        "SPY", (OrderLeg("SPY", OrderAction.SELL_TO_CLOSE, 100),), limit, "sell"))
    assert sell.outcome is CommandOutcome.ACCEPTED, sell.reason
    world.step_to(world.clock.now() + timedelta(minutes=1), minutes=1)
    assert await world.broker.positions() == []
    assert world.cash() - cash == limit * 100
    assert world.broker.fees_paid == fees_before == 0


async def test_shares_and_options_close_in_one_order_priced_per_hundred_shares() -> None:
    """A covered-stock order (an Equity leg with option legs), as tastytrade takes it: priced
    per 100 shares, its price x 100 x units is the cash it moves; the shares book at a per-share
    price and the call at a per-contract one that add up to the order's price."""
    world = await make_world()
    exp = world.market.chain("SPY", 7, 30).expirations[0]
    call = near(exp, world.market.spot("SPY") * D("1.05"), put=False)
    quote = world.market.quote("SPY")
    assert quote is not None and call.quote is not None
    price = -(quote.ask + 1) + call.quote.bid - 1  # buy-write, marketable
    price = price.quantize(D("0.01"))
    mixed = OrderRequest("SPY", (OrderLeg("SPY", OrderAction.BUY_TO_OPEN, 100),
                                 OrderLeg(call.symbol, OrderAction.SELL_TO_OPEN, 1)),
                         price, "covered")
    assert (await world.broker.dry_run(mixed)).ok
    cash = world.cash()
    result = await world.broker.place(mixed)
    assert result.outcome is CommandOutcome.ACCEPTED, result.reason
    world.step_to(world.clock.now() + timedelta(minutes=1), minutes=1)
    held = {p.symbol: p.quantity for p in await world.broker.positions()}
    assert held == {"SPY": 100, call.symbol: -1}
    fees = world.broker.fees_paid
    assert world.cash() - cash == price * 100 - fees
    close = OrderRequest("SPY", (OrderLeg("SPY", OrderAction.SELL_TO_CLOSE, 100),
                                 OrderLeg(call.symbol, OrderAction.BUY_TO_CLOSE, 1)),
                         -price - 5, "flatten")
    assert (await world.broker.place(close)).outcome is CommandOutcome.ACCEPTED
    world.step_to(world.clock.now() + timedelta(minutes=1), minutes=1)
    assert await world.broker.positions() == []


# -- durability ----------------------------------------------------------------------------------


async def test_lifecycle_transactions_survive_a_restart_and_answer_since(tmp_path) -> None:
    world = await make_world(state=PaperState(tmp_path / "paper.db"))
    exp = world.market.chain("SPY", 0, 7).expirations[0]
    call = near(exp, world.market.spot("SPY") * D("0.90"), put=False)
    await trade(world, call, OrderAction.BUY_TO_OPEN)
    world.step_to(after_close(exp.date))
    events = await world.broker.lifecycle_events(None)
    assert [e.transaction_id for e in events] == ["L1", "L2"]
    world.market.save_state()
    again = await make_world(start=world.clock.now(), state=PaperState(tmp_path / "paper.db"))
    assert await again.broker.lifecycle_events(None) == events
    assert await again.broker.lifecycle_events(events[0].time) == []
    assert await again.broker.lifecycle_events(events[0].time - timedelta(seconds=1)) == events
    snapshot = again.broker.snapshot()
    del snapshot["lifecycle"], snapshot["next_lifecycle_id"]  # a world saved before them
    again.broker.restore(snapshot)
    assert await again.broker.lifecycle_events(None) == []
