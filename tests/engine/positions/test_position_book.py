"""The position book and position actions on the scripted broker: rules fire once, checks are
coalesced per loop turn, partial closes leave the rest monitored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tastydesk.engine.domain.chain import Quote, parse_occ, streamer_symbol
from tastydesk.engine.domain.enums import (
    OptionType,
    OrderPurpose,
    RuleType,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import QuoteReceived, RuleTriggered
from tastydesk.engine.domain.strategy import ManagementRule
from tastydesk.engine.errors import EngineError
from tastydesk.engine.positions.book import CHECK_BATCH
from tastydesk.engine.positions.monitored import MonitoredLeg, MonitoredPosition
from tests.kit.world import World, world

SHORT = "SPY   260220P00570000"
LONG = "SPY   260220P00565000"
STRATEGY = "Put Credit Spread - 30 DTE"  # profit target 50%, stop loss 200%, time exit 21 DTE


def stream(occ: str) -> str:
    return streamer_symbol(*parse_occ(occ))


@pytest.fixture(name="w")
async def fixture_world(tmp_path: Path) -> AsyncIterator[World]:
    w = await world(tmp_path)
    yield w
    await w.close()


async def held(w: World, units: int = 1) -> int:
    """A monitored credit spread of ``units``: sold at 1.45, bought at 1.10 (0.35 credit)."""
    wid = await w.workflow_in("SPY", Trigger.SCAN, Trigger.PROPOSE, Trigger.APPROVE, Trigger.FILL,
                              strategy_name=STRATEGY)
    now = w.clock.now()
    await w.kernel.store.apply_position_fill(wid, SHORT, -units, Decimal("1.45"), now)
    await w.kernel.store.apply_position_fill(wid, LONG, units, Decimal("1.10"), now)
    quote(w, SHORT, "1.44", "1.46", publish=False)
    quote(w, LONG, "1.09", "1.11", publish=False)
    await w.kernel.positions.load(wid)
    await w.step()
    return wid


def quote(w: World, occ: str, bid: str, ask: str, publish: bool = True) -> None:
    w.broker.quote(occ, stream(occ), bid, ask, publish=publish)


def rule_events(w: World, rule: RuleType) -> list[RuleTriggered]:
    seen: list[RuleTriggered] = []
    w.kernel.bus.subscribe(RuleTriggered,
                           lambda e: seen.append(e) if e.rule_type == rule.value else None)
    return seen


async def test_a_rule_that_holds_fires_once_and_waits_for_the_trader(w: World) -> None:
    wid = await held(w)
    fired = rule_events(w, RuleType.PROFIT_TARGET)
    for _ in range(5):  # the spread collapses: 66% of max profit, above the 50% target
        quote(w, SHORT, "0.50", "0.52")
        quote(w, LONG, "0.38", "0.40")
        await w.step(1)
    assert [e.action for e in fired] == ["close"]
    assert w.broker.placed == [], "not armed for unattended closes: it waits for the trader"
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING


async def test_an_unattended_rule_sends_one_closing_order(tmp_path: Path) -> None:
    w = await world(tmp_path, auto_manage=["profit_target"])
    try:
        wid = await held(w)
        for _ in range(5):
            quote(w, SHORT, "0.50", "0.52")
            quote(w, LONG, "0.38", "0.40")
            await w.step(1)
        assert len(w.broker.placed) == 1
        assert w.kernel.book.state(wid) is WorkflowState.CLOSING
        (order,) = [o for o in w.store.orders(wid)]
        assert order.purpose is OrderPurpose.CLOSE
        assert order.price == Decimal("-0.12")  # buys the spread back at its mid
    finally:
        await w.close()


async def test_quotes_of_one_burst_are_checked_together(w: World) -> None:
    await held(w)
    fired = rule_events(w, RuleType.STOP_LOSS)
    # Both legs move up by a dollar in one burst: the spread is still worth 0.35.
    quote(w, SHORT, "2.44", "2.46")
    quote(w, LONG, "2.09", "2.11")
    await w.step()
    assert fired == [], "a half-updated spread (short leg moved alone) must never be seen"
    # The short leg alone moving is a real loss of 285% of the credit: the stop fires once
    # confirmed (three evaluations over ten seconds; the sudden jump itself is screened out).
    for _ in range(5):
        quote(w, SHORT, "3.44", "3.46")
        await w.step(5)
    assert [e.rule_type for e in fired] == ["stop_loss"]


async def test_a_partial_close_leaves_the_rest_monitored(w: World) -> None:
    wid = await held(w, units=2)
    result = await w.kernel.actions.close_position(wid, "ivy", pct=50)
    assert result.sent
    await w.step()
    (order,) = [o for o in w.store.orders(wid)]
    assert order.purpose is OrderPurpose.PARTIAL_CLOSE and order.quantity == 1
    (broker_id,) = w.broker.orders
    w.broker.fill(broker_id, 1)
    await w.step()
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING
    mon = w.kernel.positions.get(wid)
    assert mon is not None and mon.units == 1
    with pytest.raises(EngineError, match="one unit"):
        await w.kernel.actions.close_position(wid, "ivy", pct=50)


async def test_pausing_rules_stops_them_and_is_audited(w: World) -> None:
    wid = await held(w)
    fired = rule_events(w, RuleType.PROFIT_TARGET)
    await w.kernel.facade.set_rules_paused(wid, True, "ivy")
    quote(w, SHORT, "0.50", "0.52")
    quote(w, LONG, "0.38", "0.40")
    await w.step(1)
    assert fired == []
    assert w.kernel.book.get(wid).rules_paused
    assert any(a.action == "rules_paused" for a in w.kernel.facade.audit_log())


async def test_a_burst_over_many_positions_is_checked_a_batch_per_loop_turn(w: World) -> None:
    """A market step that moves hundreds of positions must not hold the loop for all of them:
    each turn checks at most ``CHECK_BATCH``, and every moved position is checked in the end."""
    now = w.clock.now()
    expiry = (now + timedelta(days=40)).date()
    mons = []
    for i in range(CHECK_BATCH * 2 + 5):
        sym = f".SYN{i:04d}"
        leg = MonitoredLeg(symbol=sym, streamer_symbol=sym, option_type=OptionType.PUT,
                           strike=Decimal(100), expiry=expiry, quantity=-1, ratio=-1,
                           entry_price=Decimal("1.00"), bid=Decimal("0.95"), ask=Decimal("1.05"),
                           delta=0.1, theta=0.01, vega=0.05, quote_time=now)
        mon = MonitoredPosition(workflow_id=50_000 + i, symbol="SYN", strategy_name="batch",
                                legs=[leg], units=1, max_profit_per_unit=Decimal("100"),
                                max_loss_per_unit=Decimal("400"),
                                buying_power_per_unit=Decimal("400"),
                                rules=(ManagementRule(RuleType.STOP_LOSS, Decimal("200")),),
                                opened_at=now)
        w.kernel.positions.track(mon)
        mons.append(mon)
    for mon in mons:  # a view kept from before the burst: a check drops it
        mon.cached_view = mon.view(WorkflowState.MONITORING, now.date())
    for mon in mons:
        w.kernel.bus.publish(QuoteReceived(Quote(mon.legs[0].symbol, Decimal("0.98"),
                                                 Decimal("1.04"), now)))

    def checked() -> int:
        return sum(1 for mon in mons if mon.cached_view is None)

    assert checked() == 0, "checks wait for the end of the burst"
    await asyncio.sleep(0)
    assert checked() == CHECK_BATCH
    for _ in range(5):
        await asyncio.sleep(0)
    assert checked() == len(mons)
