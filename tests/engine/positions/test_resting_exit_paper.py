"""Resting profit-target exits end to end on the paper market and broker: the GTC order rests
at the broker, fills while the engine is stopped, and the restarted engine books it."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

from tastydesk.engine.bootstrap import open_paper_engine
from tastydesk.engine.domain.enums import OrderPurpose, OrderStatus, RuleType, WorkflowState
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.results import SENT
from tests.engine.test_engine import paper, until_position


async def test_a_resting_profit_target_order_that_fills_while_stopped_is_booked_at_start_up(
        tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path, auto_manage=[])
    for s in engine.facade.strategies():
        # A near target (5 % of the credit), so the paper market reaches it within days; only
        # the resting order may take the profit (the rules act only with approval).
        rules = tuple(dataclasses.replace(r, threshold=Decimal("5"))
                      if r.rule_type is RuleType.PROFIT_TARGET else r for r in s.rules)
        await engine.facade.save_strategy(dataclasses.replace(
            s, rules=rules, pricing=dataclasses.replace(s.pricing, resting_exit=True)), "test")
    pos = await until_position(engine, driver)
    wid = pos.workflow_id
    (resting,) = [o for o in await engine.store.orders(wid) if o.purpose is OrderPurpose.CLOSE]
    assert resting.time_in_force is TimeInForce.GTC and resting.status is OrderStatus.WORKING
    await engine.stop()

    # The app is closed; the venue goes on (as tastytrade would): the paper broker is connected
    # again only to stand for it, with no engine listening.
    broker = driver.broker
    await broker.connect()
    filled = None
    for _ in range(3 * 26):
        driver.advance(1800)
        snap = await broker.find_order(resting.external_id)
        if snap is not None and snap.status is OrderStatus.FILLED:
            filled = snap
            break
    assert filled is not None, "the resting order never filled on paper"
    await broker.close()
    driver.market.save_state()
    broker.save_state()

    engine2, _ = await open_paper_engine(tmp_path, seed=3, start=driver.clock.now())
    await engine2.start(start_driver=False)
    await engine2.tasks.drain()
    try:
        wf = {w.workflow_id: w for w in engine2.facade.workflows()}[wid]
        assert wf.state in (WorkflowState.COMPLETED, WorkflowState.SCANNING)
        journal = [j for j in await engine2.store.journal() if j.workflow_id == wid]
        assert len(journal) == 1 and "profit_target" in journal[0].closing_rule
        assert journal[0].exit_price == filled.price
        order = {o.external_id: o for o in await engine2.store.orders(wid)}[resting.external_id]
        assert order.status is OrderStatus.FILLED
        assert [p for p in engine2.facade.positions() if p.workflow_id == wid] == []
        assert engine2.facade.health().reconciled  # the position left as the journal says
        assert (await engine2.store.integrity_check()) == []
    finally:
        await engine2.stop()


async def test_the_resting_order_follows_a_partial_close_and_a_roll_on_paper(
        tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path, auto_manage=[])
    ic = next(s for s in engine.facade.strategies() if s.name == "Iron Condor - 45 DTE")
    for s in engine.facade.strategies():
        if s.name != ic.name:
            await engine.facade.save_strategy(dataclasses.replace(s, enabled=False), "test")
    # A far target (90 %), so the resting order rests through the test.
    rules = tuple(dataclasses.replace(r, threshold=Decimal("90"))
                  if r.rule_type is RuleType.PROFIT_TARGET else r for r in ic.rules)
    await engine.facade.save_strategy(dataclasses.replace(
        ic, rules=rules, pricing=dataclasses.replace(ic.pricing, resting_exit=True)), "test")
    pos = await until_position(engine, driver)
    wid = pos.workflow_id

    async def orders() -> list:  # type: ignore[type-arg]
        return await engine.store.orders(wid)

    async def resting_open() -> list:  # type: ignore[type-arg]
        return [o for o in await orders() if o.time_in_force is TimeInForce.GTC
                and not o.status.is_terminal]

    async def step_until(done) -> None:  # type: ignore[no-untyped-def]
        for _ in range(80):
            driver.advance(300)
            await engine.tasks.drain()
            app_exits = [o for o in await orders() if o.time_in_force is TimeInForce.DAY
                         and o.purpose is not OrderPurpose.OPEN and not o.status.is_terminal]
            assert not (app_exits and await resting_open()), "two exits over the same legs"
            if await done():
                return
        raise AssertionError("never got there")

    (first,) = await resting_open()
    assert first.quantity == 2 and len(first.legs) == 4
    assert await engine.facade.close_position(wid, "ivan", pct=50) == SENT

    async def halved() -> bool:
        view = next((p for p in engine.facade.positions() if p.workflow_id == wid), None)
        return view is not None and view.quantity == 1 and bool(await resting_open())

    await step_until(halved)
    (second,) = await resting_open()
    assert second.quantity == 1 and second.external_id != first.external_id
    view = next(p for p in engine.facade.positions() if p.workflow_id == wid)
    old_expiry = min(leg.expiry for leg in view.legs)
    assert await engine.facade.roll_position(wid, "ivan") == SENT

    async def rolled() -> bool:
        now = next((p for p in engine.facade.positions() if p.workflow_id == wid), None)
        return (now is not None and min(leg.expiry for leg in now.legs) > old_expiry
                and now.state is WorkflowState.MONITORING and bool(await resting_open()))

    await step_until(rolled)
    (third,) = await resting_open()
    view = next(p for p in engine.facade.positions() if p.workflow_id == wid)
    assert {leg.symbol for leg in third.legs} == {leg.symbol for leg in view.legs}
    assert third.quantity == 1
    ended = {o.external_id: o.status for o in await orders()}
    assert ended[first.external_id] is ended[second.external_id] is OrderStatus.CANCELLED
    await engine.stop()
