"""The reconciliation gate: a position closed at the broker outside the app leaves automation
disarmed, shows the leg (app vs broker), sends no order, and opens once the trader decides."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tastydesk.engine.bootstrap import open_paper_engine
from tastydesk.engine.domain.enums import CommandOutcome, OrderAction, OrderStatus, WorkflowState
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest
from tastydesk.engine.reconcile_gate import DifferenceAction
from tastydesk.engine.simulation import run_simulation


async def _closed_outside(tmp_path: Path) -> tuple[int, tuple[OrderLeg, ...]]:
    """A run with open positions, then one workflow's legs closed at the broker outside the
    app (its kernel not started)."""
    await run_simulation(tmp_path, days=6, seed=1, auto_approve=True)
    kernel, driver = await open_paper_engine(tmp_path, seed=1)
    held = await kernel.store.positions(open_only=True)
    assert held, "the run left an open position"
    wid = held[0].workflow_id
    legs = tuple(OrderLeg(p.symbol, OrderAction.BUY_TO_CLOSE if p.quantity < 0
                          else OrderAction.SELL_TO_CLOSE, abs(p.quantity))
                 for p in held if p.workflow_id == wid)
    await kernel.broker.connect()
    request = OrderRequest(held[0].symbol.split()[0], legs, Decimal("-50"), "outside-close")
    assert (await kernel.broker.place(request)).outcome is CommandOutcome.ACCEPTED
    for _ in range(60):
        driver.advance(60)
        if not {leg.symbol for leg in legs} & {p.symbol for p in await kernel.broker.positions()}:
            break
    await driver.stop()
    await kernel.store.close()
    return wid, legs


async def test_a_difference_holds_automation_until_the_trader_takes_the_brokers_view(
        tmp_path: Path) -> None:
    wid, legs = await _closed_outside(tmp_path)
    # The app starts: the gate holds.
    engine, driver = await open_paper_engine(tmp_path, seed=1)
    await engine.start(start_driver=False)
    await engine.tasks.drain()
    assert not engine.facade.health().reconciled
    differences = {d.symbol: d for d in engine.facade.reconcile_differences()}
    assert {leg.symbol for leg in legs} <= set(differences)
    assert all(differences[leg.symbol].broker_quantity == 0 and
               wid in differences[leg.symbol].workflow_ids for leg in legs)
    orders_before = len(await engine.store.orders())
    for _ in range(40):
        driver.advance(900)
        await engine.tasks.drain()
    sent = (await engine.store.orders())[orders_before:]
    assert not sent, [(o.purpose, o.workflow_id, o.status, o.external_id) for o in sent]
    for symbol, diff in differences.items():
        action = (DifferenceAction.TAKE_BROKER if diff.broker_quantity == 0
                  else DifferenceAction.LATER)
        await engine.facade.decide_difference(symbol, action, "trader")
    assert engine.facade.health().reconciled
    states = {w.workflow_id: w.state for w in engine.facade.workflows()}
    assert states[wid] in (WorkflowState.COMPLETED, WorkflowState.SCANNING,
                           WorkflowState.EVALUATING)
    await engine.stop()


async def test_a_close_rejected_for_a_missing_position_is_not_retried_and_alerts(
        tmp_path: Path) -> None:
    wid, _legs = await _closed_outside(tmp_path)
    engine, driver = await open_paper_engine(tmp_path, seed=1)
    alerts: list[Alert] = []
    engine.bus.subscribe(Alert, alerts.append)
    await engine.start(start_driver=False)
    await engine.tasks.drain()
    for diff in engine.facade.reconcile_differences():
        await engine.facade.decide_difference(diff.symbol, DifferenceAction.LATER, "trader")
    assert engine.facade.health().reconciled
    await engine.facade.close_position(wid, "trader")
    for _ in range(80):
        driver.advance(900)
        await engine.tasks.drain()
    closes = [o for o in await engine.store.orders(wid) if o.purpose.value == "close"
              and o.created_at >= engine.clock.now() - timedelta(days=30)]
    rejected = [o for o in closes if o.status is OrderStatus.REJECTED]
    assert len(rejected) == 1, [(o.status, o.reject_reason) for o in closes]
    assert any(a.title.startswith("Position not at the broker") for a in alerts)
    await engine.stop()
