"""End to end on the paper engine: the paper broker assigns a short put at expiration, the app
proposes the strategy's follow-up into the approval queue, and approving it flattens the
position (close) or sells a covered call (wheel)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.engine.bootstrap import open_paper_engine
from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.chain import OptionContract, Quote
from tastydesk.engine.domain.enums import (
    ActionOutcome,
    AfterAssignment,
    CommandOutcome,
    OptionType,
    OrderAction,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import QuoteReceived
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest
from tastydesk.engine.domain.results import SENT
from tastydesk.engine.simulation import SIM_START

D = Decimal


async def paper(tmp_path: Path) -> tuple[Any, Any]:
    kernel, driver = await open_paper_engine(tmp_path, seed=3,
                                             start=SIM_START + timedelta(hours=1))
    await kernel.start(start_driver=False)
    facade = kernel.facade
    # A headless engine's approval window runs on paper time: long enough to step through.
    await facade.update_config(EngineConfig.from_dict(
        {**facade.config().to_dict(), "approval_expiry_minutes": 240}), "test")
    return kernel, driver


async def sell_to_open(kernel: Any, driver: Any, contract: OptionContract) -> None:
    q = (await kernel.broker.option_chain("SPY", 0, 90)).contract(contract.symbol).quote
    result = await kernel.broker.place(OrderRequest(
        "SPY", (OrderLeg(contract.symbol, OrderAction.SELL_TO_OPEN, 1),), q.bid - D("0.50"),
        f"open-{contract.symbol.replace(' ', '')}"))
    assert result.outcome is CommandOutcome.ACCEPTED, result.reason


async def buy_to_open(kernel: Any, contract: OptionContract) -> None:
    q = (await kernel.broker.option_chain("SPY", 0, 90)).contract(contract.symbol).quote
    result = await kernel.broker.place(OrderRequest(
        "SPY", (OrderLeg(contract.symbol, OrderAction.BUY_TO_OPEN, 1),), -(q.ask + D("0.50")),
        f"open-{contract.symbol.replace(' ', '')}"))
    assert result.outcome is CommandOutcome.ACCEPTED, result.reason


async def until(kernel: Any, driver: Any, done: Callable[[], bool], step: float = 1800,
                limit: int = 200) -> None:
    for _ in range(limit):
        if done():
            return
        driver.advance(step)
        await kernel.tasks.drain()
    raise AssertionError("the condition never held")


async def assigned_position(kernel: Any, driver: Any, strategy: str, hedge: bool) -> int:
    """A deep in-the-money short put expiring first (with, when ``hedge``, a long put of a later
    expiration), adopted under ``strategy``; stepped until the broker assigned the put and the
    follow-up waits in the queue."""
    chain = await kernel.broker.option_chain("SPY", 0, 60)
    spot = chain.underlying.price
    first, later = chain.expirations[0], chain.expirations[-1]
    short = min((s.put for s in first.strikes), key=lambda c: abs(c.strike - spot * D("1.06")))
    symbols = [short.symbol]
    await sell_to_open(kernel, driver, short)
    if hedge:
        long = min((s.put for s in later.strikes), key=lambda c: abs(c.strike - spot * D("0.95")))
        await buy_to_open(kernel, long)
        symbols.append(long.symbol)
    driver.advance(120)
    await kernel.tasks.drain()
    wid = await kernel.facade.adopt_position(symbols, strategy, "trader")
    await kernel.facade.set_rules_paused(wid, True, "trader")  # the test decides, not the rules
    await until(kernel, driver, lambda: any(p.workflow_id == wid
                                            for p in kernel.facade.pending()))
    return wid


async def test_an_assignment_queues_a_close_and_approving_it_flattens(tmp_path: Path) -> None:
    kernel, driver = await paper(tmp_path)
    try:
        wid = await assigned_position(kernel, driver, "Put Credit Spread - 30 DTE", hedge=True)
        [pending] = [p for p in kernel.facade.pending() if p.workflow_id == wid]
        proposal = pending.proposal
        assert proposal.follow_up is AfterAssignment.CLOSE
        assert [(s.symbol, s.quantity) for s in proposal.shares] == [("SPY", 100)]
        assert len(proposal.legs) == 1 and proposal.legs[0].option_type is OptionType.PUT
        assert "in one order" in proposal.rationale[-1]
        triggers = [t.trigger for t in kernel.facade.transitions(wid)]
        assert Trigger.DELIVERED in triggers and triggers[-1] is Trigger.FOLLOW_UP
        held = {p.symbol: p.quantity for p in await kernel.broker.positions()}
        assert held["SPY"] == 100  # the broker delivered the shares; nothing sold yet

        assert await kernel.facade.approve(wid, "trader") == SENT
        await until(kernel, driver, lambda: kernel.book.state(wid) is WorkflowState.COMPLETED,
                    step=60)
        assert await kernel.broker.positions() == []
        orders = [o for o in await kernel.store.orders(wid) if len(o.legs) == 2]
        assert {leg.symbol for leg in orders[-1].legs} == {"SPY", proposal.legs[0].symbol}
        [entry] = [j for j in await kernel.store.journal() if j.workflow_id == wid]
        assert entry.closing_rule == "after_assignment"
    finally:
        await kernel.stop()


async def test_an_assignment_under_the_wheel_queues_a_covered_call_and_approving_sells_it(
        tmp_path: Path) -> None:
    kernel, driver = await paper(tmp_path)
    try:
        wid = await assigned_position(kernel, driver, "Cash Secured Put - 30 DTE", hedge=False)
        [pending] = [p for p in kernel.facade.pending() if p.workflow_id == wid]
        proposal = pending.proposal
        assert proposal.follow_up is AfterAssignment.WHEEL
        [call] = proposal.legs
        assert call.option_type is OptionType.CALL and call.quantity == 1
        assert call.strike >= proposal.spot and (call.expiry - proposal.created_at.date()).days >= 21
        assert "covered call" in proposal.rationale[-1]

        assert await kernel.facade.approve(wid, "trader") == SENT
        await until(kernel, driver, lambda: kernel.book.state(wid) is WorkflowState.MONITORING
                    and not kernel.positions.get(wid).acting, step=60)
        held = {p.symbol: p.quantity for p in await kernel.broker.positions()}
        assert held == {"SPY": 100, call.symbol: -1}
        legs = {leg.symbol: leg.quantity for leg in kernel.positions.get(wid).legs}
        assert legs == {"SPY": 100, call.symbol: -1}
        assert kernel.facade.pending() == [] or all(p.workflow_id != wid
                                                    for p in kernel.facade.pending())
    finally:
        await kernel.stop()


async def test_a_follow_up_is_not_sent_on_anomalous_quotes(tmp_path: Path) -> None:
    kernel, driver = await paper(tmp_path)
    try:
        wid = await assigned_position(kernel, driver, "Put Credit Spread - 30 DTE", hedge=True)
        [pending] = [p for p in kernel.facade.pending() if p.workflow_id == wid]
        [put] = pending.proposal.legs
        sent: list[OrderRequest] = []
        original = kernel.broker.place

        async def counting(order: OrderRequest) -> Any:
            sent.append(order)
            return await original(order)

        kernel.broker.place = counting
        # The long put the close sells loses its bid while its ask says it is worth something.
        kernel.bus.publish(QuoteReceived(Quote(put.streamer_symbol, D("0.00"), D("5.00"),
                                               kernel.clock.now())))
        result = await kernel.facade.approve(wid, "trader")
        await kernel.tasks.drain()
        assert result.outcome is ActionOutcome.REPRICED
        assert result.detail == "quotes ignored: a leg to be sold has no bid (zero_bid)"
        assert sent == []
        reasons = [t.reason for t in kernel.facade.transitions(wid)]
        assert any("not sent: quotes ignored: a leg to be sold has no bid (zero_bid)" in r
                   for r in reasons)
    finally:
        await kernel.stop()
