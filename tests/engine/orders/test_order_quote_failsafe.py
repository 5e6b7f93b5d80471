"""The pricing-anomaly failsafe on the price walk (scripted broker): while a leg's quote has a
zero bid or the legs are inverted, an entry walk and a fast stop walk hold their price (no
replace), alert once with the reason and say so on the order's timeline; the walk goes on from
sane quotes."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tastydesk.engine.domain.enums import OptionType, OrderAction, OrderPurpose, OrderStatus, Trigger
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.execution_pricing.anomaly import LegQuote, QuoteAnomaly
from tastydesk.engine.execution_pricing.walk import FAST, PATIENT
from tastydesk.engine.orders.quote_check import screen
from tests.kit.world import World, world

SHORT, SHORT_STREAM = "SPY   260220P00570000", ".SPY260220P570"
LONG, LONG_STREAM = "SPY   260220P00565000", ".SPY260220P565"
TO_EXECUTING = (Trigger.SCAN, Trigger.PROPOSE, Trigger.APPROVE)
# (570 put, 565 put) quotes: sane, then the two anomalies, for each kind of order. A zero bid
# is on the leg the order sells (the 570 put when opening, the 565 put when closing).
SANE = (("1.48", "1.52"), ("1.08", "1.12"))
INVERTED = (("1.00", "1.04"), ("1.10", "1.14"))  # the 570 put offered below the 565 bid
ZERO_BID = {OrderPurpose.OPEN: (("0.00", "1.52"), ("1.08", "1.12")),
            OrderPurpose.CLOSE: (("1.48", "1.52"), ("0.00", "1.12"))}


@pytest.fixture(name="w")
async def fixture_world(tmp_path: Path) -> AsyncIterator[World]:
    w = await world(tmp_path)
    yield w
    await w.close()


def quote(w: World, quotes: tuple[tuple[str, str], tuple[str, str]]) -> None:
    (short_bid, short_ask), (long_bid, long_ask) = quotes
    w.broker.quote(SHORT, SHORT_STREAM, short_bid, short_ask)
    w.broker.quote(LONG, LONG_STREAM, long_bid, long_ask)


async def send(w: World, purpose: OrderPurpose) -> tuple[str, float]:
    """An entry (patient walk from mid 0.40 credit) or a stop-loss exit (fast walk from mid
    -0.40 debit) of one put spread, quoted sane; its external id and walk interval."""
    wid = await w.workflow_in("SPY", *TO_EXECUTING)
    if purpose is OrderPurpose.OPEN:
        legs = (OrderLeg(SHORT, OrderAction.SELL_TO_OPEN, 1),
                OrderLeg(LONG, OrderAction.BUY_TO_OPEN, 1))
        mid, natural, rule, interval = "0.40", "0.36", "", PATIENT.interval_seconds
    else:
        legs = (OrderLeg(SHORT, OrderAction.BUY_TO_CLOSE, 1),
                OrderLeg(LONG, OrderAction.SELL_TO_CLOSE, 1))
        mid, natural, rule, interval = "-0.40", "-0.44", "stop_loss", FAST.interval_seconds
    await w.kernel.orders.submit(wid, purpose, "SPY", legs, 1, mid=Decimal(mid),
                                 natural=Decimal(natural), strategy=None, rule_type=rule)
    await w.step()
    quote(w, SANE)
    await w.step()
    (order,) = [o for o in w.kernel.orders.records() if o.workflow_id == wid]
    assert order.price == Decimal(mid)
    return order.external_id, interval + 0.5


@pytest.mark.parametrize("purpose", [OrderPurpose.OPEN, OrderPurpose.CLOSE])
@pytest.mark.parametrize("anomaly", ["zero_bid", "inverted"])
async def test_a_walk_holds_on_anomalous_quotes_and_resumes_on_sane_ones(
        w: World, purpose: OrderPurpose, anomaly: str) -> None:
    alerts: list[Alert] = []
    w.kernel.bus.subscribe(Alert, alerts.append)
    ext, interval = await send(w, purpose)
    start = w.store.get_order(ext).price  # type: ignore[union-attr]
    quote(w, ZERO_BID[purpose] if anomaly == "zero_bid" else INVERTED)
    for _ in range(3):
        await w.step(interval)
    assert w.broker.replaced == []  # no step, let alone one priced from the bad quotes
    order = w.store.get_order(ext)
    assert order is not None and order.status is OrderStatus.WORKING and order.price == start
    held = [a for a in alerts if a.title == "SPY: order not re-priced"]
    assert len(held) == 1 and f"({anomaly})" in held[0].message  # once, with the reason
    timeline = [e.detail for e in w.store.order_events(ext)]
    assert sum(d.startswith(f"price step held at {start}: quotes ignored") for d in timeline) == 1
    quote(w, SANE)
    await w.step(interval)
    (step,) = w.broker.replaced
    natural = Decimal("0.36") if purpose is OrderPurpose.OPEN else Decimal("-0.44")
    assert natural <= step[1] < start  # walked toward the sane natural, not the bad one
    assert w.store.get_order(ext).price == step[1]  # type: ignore[union-attr]


async def test_a_new_reason_alerts_again_and_a_missing_quote_is_no_anomaly(w: World) -> None:
    alerts: list[Alert] = []
    w.kernel.bus.subscribe(Alert, alerts.append)
    ext, interval = await send(w, OrderPurpose.OPEN)
    quote(w, INVERTED)
    await w.step(interval)
    quote(w, ZERO_BID[OrderPurpose.OPEN])
    await w.step(interval)
    reasons = [a.message for a in alerts if a.title == "SPY: order not re-priced"]
    assert len(reasons) == 2 and "(inverted)" in reasons[0] and "(zero_bid)" in reasons[1]
    assert w.broker.replaced == []
    assert w.store.get_order(ext).status is OrderStatus.WORKING  # type: ignore[union-attr]


def test_a_jump_holds_one_step_and_a_broken_market_never_joins_the_window() -> None:
    def legs(short: str, long: str) -> list[LegQuote]:
        s, lg = Decimal(short), Decimal(long)
        return [LegQuote(1, 1, s - Decimal("0.02"), s + Decimal("0.02"), OptionType.PUT,
                         Decimal("570")),
                LegQuote(-1, 1, lg - Decimal("0.02"), lg + Decimal("0.02"), OptionType.PUT,
                         Decimal("565"))]

    recent: deque[float] = deque(maxlen=8)
    assert screen(legs("1.50", "1.10"), recent) is None
    assert screen(legs("1.51", "1.10"), recent) is None
    assert screen(legs("2.50", "1.10"), recent) is QuoteAnomaly.JUMP  # 0.40 -> 1.40 in a step
    assert screen(legs("2.50", "1.10"), recent) is None  # a genuine move passes next time
    assert screen(legs("1.00", "1.10"), recent) is QuoteAnomaly.INVERTED
    assert len(recent) == 4  # the inverted market's mid is no price: not in the window
