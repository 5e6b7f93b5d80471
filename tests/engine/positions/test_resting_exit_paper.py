"""Resting profit-target exits end to end on the paper market and broker: the GTC order rests
at the broker, fills while the engine is stopped, and the restarted engine books it."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

from tastydesk.engine.bootstrap import open_paper_engine
from tastydesk.engine.domain.enums import OrderPurpose, OrderStatus, RuleType, WorkflowState
from tastydesk.engine.domain.instruments import TimeInForce
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
