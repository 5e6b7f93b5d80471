"""Fixtures shared by the broker tests: the fake tastytrade and per-broker order-flow harnesses.

A harness exposes what differs between brokers behind one interface, so the order-flow suite
(``test_order_flows.py``) runs unchanged on every broker: how to build an order the broker will
leave working, how to make it fill (fully or partly), how to provoke a definitive rejection.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tastydesk.engine.broker.tastytrade.adapter import TastytradeBroker  # noqa: E402
from tastydesk.engine.broker.tastytrade.streams import StreamSettings  # noqa: E402
from tastydesk.engine.bus import EventBus  # noqa: E402
from tastydesk.engine.clock import RealClock  # noqa: E402
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


# The paper broker joins once tastydesk.engine.broker.paper.market (PaperMarket) is in the tree.
FLOW_BROKERS = ["tastytrade"]


@pytest.fixture(params=FLOW_BROKERS)
async def flow(request: pytest.FixtureRequest, tt_fake: FakeTastytrade) -> AsyncIterator[Any]:
    """One connected broker behind its harness, for every broker in ``FLOW_BROKERS``."""
    bus = EventBus()
    recorder = Recorder().attach(bus)
    broker = make_tt_broker(tt_fake, bus)
    await broker.connect()
    yield TastytradeHarness(tt_fake, broker, bus, recorder)
    await broker.close()
