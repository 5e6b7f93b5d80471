"""Fixtures shared by the broker tests: the fake tastytrade and per-broker order-flow harnesses.

A harness exposes what differs between brokers behind one interface, so the order-flow suite
(``test_order_flows.py``) runs unchanged on every broker: how to build an order the broker will
leave working, how to make it fill (fully or partly), how to provoke a definitive rejection.
The tastytrade harness drives the fake server; the paper harness steps a seeded paper market.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tastydesk.engine.broker.paper.broker import PaperBroker  # noqa: E402
from tastydesk.engine.broker.paper.market import PaperMarket  # noqa: E402
from tastydesk.engine.broker.tastytrade.adapter import TastytradeBroker  # noqa: E402
from tastydesk.engine.broker.tastytrade.streams import StreamSettings  # noqa: E402
from tastydesk.engine.bus import EventBus  # noqa: E402
from tastydesk.engine.clock import MarketCalendar, RealClock, SimClock  # noqa: E402
from tastydesk.engine.domain.chain import OptionContract  # noqa: E402
from tastydesk.engine.domain.enums import OrderAction  # noqa: E402
from tastydesk.engine.domain.events import (  # noqa: E402
    BalanceUpdated,
    ConnectionChanged,
    FillReceived,
    GreeksReceived,
    OrderUpdated,
    PositionUpdated,
    QuoteReceived,
    StreamGap,
)
from tastydesk.engine.domain.money import CENT, MULTIPLIER  # noqa: E402
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest  # noqa: E402
from tests.fake_tastytrade import FakeTastytrade, InProcessTransport  # noqa: E402

EVENT_TYPES = (OrderUpdated, FillReceived, PositionUpdated, BalanceUpdated, ConnectionChanged,
               StreamGap, QuoteReceived, GreeksReceived)

FAST_STREAMS = StreamSettings(backoff_initial=0.02, backoff_max=0.2, stale_after=1.0,
                              heartbeat=0.2, chunk_size=200, subscribe_timeout=2.0)


@dataclass
class Recorder:
    """Every event published on a bus, with an async wait for a condition."""

    events: list[object] = field(default_factory=list)

    def attach(self, bus: EventBus) -> Recorder:
        for kind in EVENT_TYPES:
            bus.subscribe(kind, self.events.append)
        return self

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 3.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.01)


def new_external_id() -> str:
    return f"td-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def tt_fake() -> AsyncIterator[FakeTastytrade]:
    fake = FakeTastytrade(dx_keepalive=0.1, hang_seconds=30.0)
    transport = InProcessTransport(fake.app)
    await transport.start()
    fake.transport = transport  # type: ignore[attr-defined]
    yield fake
    await transport.aclose()


def make_tt_broker(fake: FakeTastytrade, bus: EventBus, **overrides: Any) -> TastytradeBroker:
    kwargs: dict[str, Any] = {
        "provider_secret": fake.provider_secret, "refresh_token": fake.refresh_token,
        "client_kwargs": {"transport": fake.transport},  # type: ignore[attr-defined]
        "request_timeout": 0.5, "stream_settings": FAST_STREAMS, "retry_backoff": 0.01,
        "stream_connect_timeout": 3.0, "seed": 1,
        "chain_wait_s": 0.0,  # these flows manage subscriptions themselves
    }
    kwargs.update(overrides)
    return TastytradeBroker(bus, RealClock(), **kwargs)


class TastytradeHarness:
    name = "tastytrade"

    def __init__(self, fake: FakeTastytrade, broker: TastytradeBroker, bus: EventBus,
                 recorder: Recorder) -> None:
        self.fake = fake
        self.broker = broker
        self.bus = bus
        self.recorder = recorder

    def spread(self, quantity: int = 1) -> OrderRequest:
        """A SPY call credit spread priced well away from the market, so it stays working."""
        market = self.fake.market
        expiry = next(e for e in market.expirations("SPY") if (e - market.today).days >= 7)
        strikes = market.strikes("SPY")
        short = market.listing(_occ("SPY", expiry, "C", strikes[14]))
        long = market.listing(_occ("SPY", expiry, "C", strikes[16]))
        assert short is not None and long is not None
        return OrderRequest(
            underlying="SPY",
            legs=(OrderLeg(short.occ, OrderAction.SELL_TO_OPEN, quantity),
                  OrderLeg(long.occ, OrderAction.BUY_TO_OPEN, quantity)),
            price=Decimal("9.00"), external_id=new_external_id())

    async def make_fill(self, order_id: str, quantity: int | None = None) -> None:
        before = len(self.recorder.of(FillReceived))
        self.fake.fill(int(order_id), quantity)
        await self.recorder.wait_for(lambda: len(self.recorder.of(FillReceived)) > before)

    async def prepare_rejection(self, reason: str) -> OrderRequest:
        self.fake.reject_next("place", reason, as_status=True)
        return self.spread()

    async def settle(self) -> None:
        await asyncio.sleep(0.05)

    def wide_order(self, legs: int) -> OrderRequest:
        """A SPY call ladder of ``legs`` distinct strikes, one contract each, as a debit."""
        market = self.fake.market
        expiry = next(e for e in market.expirations("SPY") if (e - market.today).days >= 7)
        strikes = market.strikes("SPY")[10:10 + legs]
        actions = [OrderAction.BUY_TO_OPEN if i % 2 == 0 else OrderAction.SELL_TO_OPEN
                   for i in range(legs)]
        return OrderRequest("SPY", tuple(
            OrderLeg(_occ("SPY", expiry, "C", k), a, 1)
            for k, a in zip(strikes, actions, strict=True)), Decimal("-5.00"), new_external_id())

    def off_tick_order(self) -> OrderRequest:
        """One AAPL call bought at $3.02: penny-program classes trade in $0.05 above $3."""
        market = self.fake.market
        expiry = next(e for e in market.expirations("AAPL") if (e - market.today).days >= 7)
        strike = market.strikes("AAPL")[len(market.strikes("AAPL")) // 2]
        leg = OrderLeg(_occ("AAPL", expiry, "C", strike), OrderAction.BUY_TO_OPEN, 1)
        return OrderRequest("AAPL", (leg,), Decimal("-3.02"), new_external_id())

    async def end_session(self) -> None:
        """The fake server's session closes: working DAY orders expire, GTC orders keep working."""
        self.fake.close_market()

    async def next_session(self) -> None:
        """The fake server's clock moves a day on and its market opens."""
        self.fake.next_session()


def _occ(root: str, expiry: Any, cp: str, strike: Decimal) -> str:
    from tests.fake_tastytrade.market import occ

    return occ(root, expiry, cp, strike)


@pytest.fixture
async def tt_harness(tt_fake: FakeTastytrade) -> AsyncIterator[TastytradeHarness]:
    bus = EventBus()
    recorder = Recorder().attach(bus)
    broker = make_tt_broker(tt_fake, bus)
    await broker.connect()
    yield TastytradeHarness(tt_fake, broker, bus, recorder)
    await broker.close()


@pytest.fixture
def tt_factory(tt_fake: FakeTastytrade) -> Callable[..., TastytradeHarness]:
    """Build (not connect) a harness around a new broker on the fake, with overrides."""

    def build(**overrides: Any) -> TastytradeHarness:
        bus = EventBus()
        recorder = Recorder().attach(bus)
        return TastytradeHarness(tt_fake, make_tt_broker(tt_fake, bus, **overrides), bus,
                                 recorder)

    return build


PAPER_START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # Monday 5 January 2026, 10:00 New York
PAPER_STEP = timedelta(minutes=1)
# Two hours of one-minute steps: a resting order three quarters of the way from the far side to
# the natural price trades within a few minutes, so running out of steps means a broken fill model.
PAPER_MAX_FILL_STEPS = 120


class PaperHarness:
    """The paper broker on a seeded paper market whose time moves only when the harness steps it.

    Orders never trade between steps, so every order is left working until :meth:`make_fill`
    steps the market. The spread is a deep in-the-money SPY call credit vertical: both deltas are
    close to one, so its value barely moves with the market while its quotes are wide. Priced a
    quarter of the way from the natural price to the far side, it rests (far from marketable)
    and trades passively within a few steps, and a passive paper fill never takes more than half
    of an order's units, which gives exact partial fills.
    """

    name = "paper"

    def __init__(self, market: PaperMarket, broker: PaperBroker, clock: SimClock, bus: EventBus,
                 recorder: Recorder) -> None:
        self.market = market
        self.broker = broker
        self.clock = clock
        self.bus = bus
        self.recorder = recorder

    def step(self) -> None:
        """One market step, in the order the paper driver uses: market first, then the clock."""
        to = self.clock.now() + PAPER_STEP
        self.market.step(to)
        self.clock.advance(to)

    def _deep_calls(self) -> tuple[OptionContract, OptionContract]:
        chain = self.market.chain("SPY", min_dte=7, max_dte=60)
        expiration = chain.expirations[0]
        low, high = expiration.strikes[0].call, expiration.strikes[1].call
        for contract in (low, high):
            assert contract.greeks is not None and contract.greeks.delta > 0.95, contract
        return low, high

    def spread(self, quantity: int = 1) -> OrderRequest:
        """A deep in-the-money SPY call credit vertical resting between natural and far."""
        short, long = self._deep_calls()
        assert short.quote is not None and long.quote is not None
        natural = short.quote.bid - long.quote.ask
        far = short.quote.ask - long.quote.bid
        price = (natural + (far - natural) / 4).quantize(CENT, rounding=ROUND_CEILING)
        assert natural < price < far, (natural, price, far)
        return OrderRequest(
            underlying="SPY",
            legs=(OrderLeg(short.symbol, OrderAction.SELL_TO_OPEN, quantity),
                  OrderLeg(long.symbol, OrderAction.BUY_TO_OPEN, quantity)),
            price=price, external_id=new_external_id())

    async def make_fill(self, order_id: str, quantity: int | None = None) -> None:
        """Step the market until exactly ``quantity`` more units (default: all) have traded."""
        order = await self.broker.get_order(order_id)
        assert order is not None, f"order_id: unknown paper order {order_id!r}"
        start = order.filled_quantity
        target = order.quantity if quantity is None else start + quantity
        if not start < target <= order.quantity:
            raise ValueError(f"quantity: {quantity} does not fit the {order.quantity - start} "
                             f"unfilled units of order {order_id}")
        for _ in range(PAPER_MAX_FILL_STEPS):
            self.step()
            order = await self.broker.get_order(order_id)
            assert order is not None
            if order.filled_quantity >= target or order.status.is_terminal:
                break
        if order.filled_quantity != target:
            raise AssertionError(
                f"order {order_id}: {order.filled_quantity - start} units traded "
                f"(status {order.status.value}), wanted {target - start}")

    async def prepare_rejection(self, reason: str) -> OrderRequest:
        """An order the paper broker rejects for ``reason``: buying power or an absent position."""
        short, _ = self._deep_calls()
        assert short.quote is not None
        text = reason.lower()
        if "buying power" in text:
            balance = await self.broker.balance()
            cost = short.quote.ask * MULTIPLIER
            lots = int(balance.buying_power * 4 / cost) + 1
            leg = OrderLeg(short.symbol, OrderAction.BUY_TO_OPEN, lots)
            return OrderRequest("SPY", (leg,), -short.quote.ask, new_external_id())
        if "position" in text:
            held = {p.symbol: p.quantity for p in await self.broker.positions()}
            long_held = max(held.get(short.symbol, 0), 0)
            leg = OrderLeg(short.symbol, OrderAction.SELL_TO_CLOSE, long_held + 1)
            return OrderRequest("SPY", (leg,), short.quote.bid, new_external_id())
        raise ValueError(f"reason: the paper broker has no definite rejection for {reason!r}")

    async def settle(self) -> None:
        """Nothing to wait for: the paper broker publishes every change before it returns."""
        await asyncio.sleep(0)

    def wide_order(self, legs: int) -> OrderRequest:
        """A SPY call ladder of ``legs`` distinct strikes, one contract each, as a debit."""
        expiration = self.market.chain("SPY", min_dte=7, max_dte=60).expirations[0]
        middle = len(expiration.strikes) // 2
        calls = [s.call for s in expiration.strikes[middle:middle + legs]]
        actions = [OrderAction.BUY_TO_OPEN if i % 2 == 0 else OrderAction.SELL_TO_OPEN
                   for i in range(legs)]
        return OrderRequest("SPY", tuple(
            OrderLeg(c.symbol, a, 1) for c, a in zip(calls, actions, strict=True)),
            Decimal("-5.00"), new_external_id())

    def off_tick_order(self) -> OrderRequest:
        """One AAPL call bought at a price ending in $0.02 above $3, where AAPL trades in $0.05."""
        chain = self.market.chain("AAPL", min_dte=7, max_dte=60)
        call = next(s.call for s in chain.expirations[0].strikes
                    if s.call.quote is not None and s.call.quote.bid > 4)
        assert call.quote is not None
        price = -(call.quote.bid.quantize(Decimal("0.1")) + Decimal("0.02"))
        leg = OrderLeg(call.symbol, OrderAction.BUY_TO_OPEN, 1)
        return OrderRequest("AAPL", (leg,), price, new_external_id())

    async def end_session(self) -> None:
        """One step to five minutes after today's close (orders do not trade on the way)."""
        to = self.market.calendar.next_close(self.clock.now()) + timedelta(minutes=5)
        self.market.step(to)
        self.clock.advance(to)

    async def next_session(self) -> None:
        """Step the market to one minute after the next open."""
        opening = self.market.calendar.next_open(self.clock.now())
        to = opening + PAPER_STEP
        self.market.step(to)
        self.clock.advance(to)


@pytest.fixture
async def paper_harness() -> AsyncIterator[PaperHarness]:
    clock = SimClock(PAPER_START)
    bus = EventBus()
    recorder = Recorder().attach(bus)
    market = PaperMarket(bus, clock, MarketCalendar([]), seed=7, symbols=("SPY", "AAPL"))
    broker = PaperBroker(market, bus, clock, seed=3)
    await broker.connect()
    yield PaperHarness(market, broker, clock, bus, recorder)
    await broker.close()


FLOW_BROKERS = ["tastytrade", "paper"]
_HARNESS_FIXTURES = {"tastytrade": "tt_harness", "paper": "paper_harness"}


@pytest.fixture(params=FLOW_BROKERS)
def flow(request: pytest.FixtureRequest) -> Any:
    """One connected broker behind its harness, for every broker in ``FLOW_BROKERS``."""
    return request.getfixturevalue(_HARNESS_FIXTURES[request.param])
