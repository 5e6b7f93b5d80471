"""The workflow engine end to end on the real paper market and broker, on real SQLite files."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tastydesk.engine.approvals.desk import NOT_PENDING
from tastydesk.engine.bootstrap import open_paper_engine
from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.enums import (
    ActionOutcome,
    CommandOutcome,
    OptionType,
    OrderStatus,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.orders import CommandResult
from tastydesk.engine.domain.results import SENT
from tastydesk.engine.errors import EngineError
from tastydesk.engine.simulation import SIM_START, run_simulation
from tastydesk.engine.store.guard import LOOP_GUARD
from tastydesk.engine.store.service import Store
from tastydesk.paths import db_path


async def paper(tmp_path: Path, **config: Any) -> tuple[Any, Any]:
    engine, driver = await open_paper_engine(tmp_path, seed=3, start=SIM_START + timedelta(hours=1))
    await engine.start(start_driver=False)
    facade = engine.facade
    await facade.update_config(EngineConfig.from_dict({**facade.config().to_dict(),
                                                       "min_confidence": 0.0, **config}), "test")
    return engine, driver


async def until_pending(engine: Any, driver: Any) -> list[Any]:
    for _ in range(20):
        await engine.facade.scan_now()
        await engine.tasks.drain()
        if engine.facade.pending():
            return engine.facade.pending()
        driver.advance(1800)
        await engine.tasks.drain()
    raise AssertionError("no proposal reached approval")


def count_placed(engine: Any) -> list[str]:
    """External ids of every order the engine hands to the broker from now on."""
    placed: list[str] = []
    original = engine.broker.place

    async def counting(order: Any) -> CommandResult:
        placed.append(order.external_id)
        return await original(order)

    engine.broker.place = counting
    return placed


async def test_scan_proposes_with_a_full_risk_report(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path)
    pending = await until_pending(engine, driver)
    p = pending[0].proposal
    assert p.legs and p.max_loss > 0 and p.max_profit > 0
    assert p.rationale, "the proposal says why this strategy was chosen"
    wf = next(w for w in engine.facade.workflows() if w.workflow_id == pending[0].workflow_id)
    assert wf.state is WorkflowState.PENDING_APPROVAL
    await engine.stop()


async def test_double_approval_sends_exactly_one_order(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path)
    wid = (await until_pending(engine, driver))[0].workflow_id
    placed = count_placed(engine)
    results = await asyncio.gather(engine.facade.approve(wid, "alice"), engine.facade.approve(wid, "alice"))
    await engine.tasks.drain()
    assert sorted(r.outcome for r in results) == [ActionOutcome.IN_PROGRESS, ActionOutcome.SENT]
    assert len(placed) == 1
    assert await engine.facade.approve(wid, "alice") == NOT_PENDING
    assert len(placed) == 1
    decisions = await engine.store.decisions()
    assert [d.user for d in decisions] == ["alice"]
    assert all(o.workflow_id == wid for o in await engine.store.orders())
    await engine.stop()


async def test_reject_needs_a_reason_and_restarts_after_cool_down(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path, reject_cooldown_minutes=30)
    wid = (await until_pending(engine, driver))[0].workflow_id
    with pytest.raises(EngineError, match="reason"):
        await engine.facade.reject(wid, "bob", "  ")
    assert engine.facade.pending()
    await engine.facade.reject(wid, "bob", "too close to earnings")
    wf = {w.workflow_id: w for w in engine.facade.workflows()}[wid]
    assert wf.state is WorkflowState.REJECTED
    assert engine.facade.decisions()[0].reason == "too close to earnings"
    driver.advance(31 * 60)
    await engine.tasks.drain()
    wf = {w.workflow_id: w for w in engine.facade.workflows()}[wid]
    assert wf.state in (WorkflowState.SCANNING, WorkflowState.EVALUATING,
                        WorkflowState.PENDING_APPROVAL)
    await engine.stop()


async def test_unknown_outcome_is_looked_up_never_resent(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path)
    wid = (await until_pending(engine, driver))[0].workflow_id
    calls = 0
    original = engine.broker.place

    async def lost_response(order: Any) -> CommandResult:
        nonlocal calls
        calls += 1
        await original(order)  # the broker took it, but the answer never came back
        return CommandResult(CommandOutcome.UNKNOWN, reason="timeout after send")

    engine.broker.place = lost_response
    assert await engine.facade.approve(wid, "carol") == SENT
    await engine.tasks.drain()
    order = (await engine.store.orders(wid))[0]
    events = await engine.store.order_events(order.external_id)
    assert OrderStatus.UNKNOWN in [e.status for e in events]
    driver.advance(5)
    await engine.tasks.drain()
    order = (await engine.store.orders(wid))[0]
    assert order.status in (OrderStatus.WORKING, OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)
    assert order.broker_order_id is not None
    assert calls == 1
    live = [o for o in await engine.broker.live_orders() if o.external_id == order.external_id]
    assert len(live) == 1
    await engine.stop()


async def test_restart_reconciles_an_intent_that_never_reached_the_broker(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path)
    wid = (await until_pending(engine, driver))[0].workflow_id

    async def crash(order: Any) -> CommandResult:
        raise RuntimeError("process died before sending")

    engine.broker.place = crash
    with pytest.raises(RuntimeError):
        await engine.facade.approve(wid, "dave")
    await engine.stop()
    store = Store.open(db_path(tmp_path))
    with LOOP_GUARD.permitted():  # the test inspects the file between two engine runs
        assert store.orders(wid)[0].status is OrderStatus.PENDING_SUBMIT
    store.close()
    # Restart on the same data: the intent is looked up, not found, and never sent.
    engine2, _ = await open_paper_engine(tmp_path, seed=3)
    await engine2.start(start_driver=False)
    await engine2.tasks.drain()
    order = (await engine2.store.orders(wid))[0]
    assert order.status is OrderStatus.CANCELLED
    events = await engine2.store.order_events(order.external_id)
    assert "never reached the broker" in events[-1].detail
    wf = {w.workflow_id: w for w in engine2.facade.workflows()}[wid]
    assert wf.state is WorkflowState.SCANNING
    assert engine2.facade.health().reconciled
    assert (await engine2.store.integrity_check()) == []
    await engine2.stop()


async def test_kill_switch_pauses_scheduled_scans(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path, scan_interval_minutes=5)
    await engine.facade.set_automation(False, "erin")
    before = engine.counters["scans"]
    driver.advance(3600)
    await engine.tasks.drain()
    assert engine.counters["scans"] == before
    await engine.facade.set_automation(True, "erin")
    driver.advance(3600)
    await engine.tasks.drain()
    assert engine.counters["scans"] > before
    assert any(a.action == "automation" for a in engine.facade.audit_log())
    await engine.stop()


async def test_simulation_runs_the_whole_cycle(tmp_path: Path) -> None:
    summary = await run_simulation(tmp_path, days=60, seed=1, auto_approve=True)
    assert summary["errors"] == 0, summary["error_messages"]
    assert summary["integrity"] == []
    assert summary["positions_closed"] >= 1
    assert summary["fills"] > 0 and summary["orders"] >= summary["orders_filled"] > 0
    assert Decimal(summary["realised_pnl"]) != 0
    triggers = summary["rule_triggers"]
    assert triggers.get("profit_target", 0) > 0
    assert triggers.get("stop_loss", 0) + triggers.get("time_exit", 0) > 0
    assert triggers.get("partial_close", 0) + triggers.get("roll", 0) > 0
    # The journal names the bare rule; the whole reason is on the CLOSE transition.
    assert summary["closed_by"] and all(" " not in rule and ":" not in rule
                                        for rule in summary["closed_by"])
    # A partial close never takes a whole position off ("close 1 of 1").
    store = Store.open(db_path(tmp_path))
    with LOOP_GUARD.permitted():  # the test inspects the file after the run
        closes = [t.reason for t in store.transitions(None)
                  if t.trigger is Trigger.CLOSE and "partial_close" in t.reason]
    store.close()
    for reason in closes:
        done, _, held = reason.rpartition("close ")[2].partition(" of ")
        assert int(done) < int(held), reason


async def test_positions_opened_outside_the_app_can_be_adopted(tmp_path: Path) -> None:
    from tastydesk.engine.domain.enums import OrderAction
    from tastydesk.engine.domain.orders import OrderLeg, OrderRequest

    engine, driver = await paper(tmp_path)
    chain = await engine.broker.option_chain("SPY", 25, 40)
    exp = chain.expirations[0]
    puts = [s.put for s in exp.strikes if s.put.greeks and 0.1 < abs(s.put.greeks.delta) < 0.3]
    short, long_ = puts[-1], next(p for p in reversed(puts) if p.strike <= puts[-1].strike - 5)
    # A put spread placed directly at the broker, as if from the tastytrade website.
    natural = (short.quote.bid - long_.quote.ask - Decimal("0.10")).quantize(Decimal("0.01"))
    order = OrderRequest("SPY", (OrderLeg(short.symbol, OrderAction.SELL_TO_OPEN, 1),
                                 OrderLeg(long_.symbol, OrderAction.BUY_TO_OPEN, 1)),
                         natural, "outside-1")
    assert (await engine.broker.place(order)).outcome is CommandOutcome.ACCEPTED
    for _ in range(12):
        driver.advance(300)
        await engine.tasks.drain()
        if await engine.broker.positions():
            break
    outside = {p.symbol for p in await engine.facade.external_positions()}
    assert {short.symbol, long_.symbol} <= outside
    with pytest.raises(EngineError, match="strategy"):
        await engine.facade.adopt_position([short.symbol], "No Such Strategy", "frank")
    wid = await engine.facade.adopt_position([short.symbol, long_.symbol],
                                      "Put Credit Spread - 30 DTE", "frank")
    await engine.tasks.drain()
    view = next(p for p in engine.facade.positions() if p.workflow_id == wid)
    width = (short.strike - long_.strike) * 100
    assert view.max_loss + view.max_profit == width
    assert {r.rule_type.value for r in view.rules} >= {"profit_target", "stop_loss"}
    assert not {p.symbol for p in await engine.facade.external_positions()} & {short.symbol, long_.symbol}
    assert (await engine.store.integrity_check()) == []
    await engine.stop()


async def test_a_moved_market_is_repriced_and_shown_again_not_sent(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path, reprice_tolerance="0.00")
    pending = (await until_pending(engine, driver))[0]
    wid, first = pending.workflow_id, pending.proposal
    placed = count_placed(engine)
    for _ in range(48):  # let the market move against the proposal's price (the trader's limit)
        driver.advance(600)
        await engine.tasks.drain()
        fresh = await engine.desk.current_prices(first)
        if fresh is not None and fresh.mid < first.mid_price:
            break
    if not engine.facade.pending() or fresh is None or fresh.mid >= first.mid_price:
        pytest.skip("the market did not move against the proposal while it was pending")
    outcome = str(await engine.facade.approve(wid, "gina"))
    await engine.tasks.drain()
    assert outcome.startswith(("repriced", "withdrawn")), outcome
    assert placed == []
    reasons = [t.reason for t in engine.facade.transitions(wid)]
    assert any(r.startswith("approved by gina at limit") and "not sent: mid moved" in r
               for r in reasons)
    if outcome.startswith("repriced"):
        again = {p.workflow_id: p for p in engine.facade.pending()}[wid]
        assert again.proposal_id != pending.proposal_id
    await engine.stop()


async def test_pending_proposals_expire(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path, approval_expiry_minutes=10)
    wid = (await until_pending(engine, driver))[0].workflow_id
    driver.advance(11 * 60)
    await engine.tasks.drain()
    assert wid not in {p.workflow_id for p in engine.facade.pending()}
    assert any(t.reason == "approval window expired" for t in engine.facade.transitions(wid))
    await engine.stop()


async def test_modified_approval_records_price_and_quantity(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path)
    pending = (await until_pending(engine, driver))[0]
    price = pending.proposal.mid_price + Decimal("0.05")
    assert await engine.facade.approve(pending.workflow_id, "hana", price=price, quantity=1) == SENT
    await engine.tasks.drain()
    decision = engine.facade.decisions()[-1]
    assert (decision.decision, decision.user, decision.price, decision.quantity) == (
        "modify", "hana", price, 1)
    order = (await engine.store.orders(pending.workflow_id))[0]
    assert order.price == price and order.quantity == 1
    assert all(leg.quantity == q // pending.proposal.quantity
               for leg, q in zip(order.legs, [x.quantity for x in pending.proposal.legs],
                                 strict=True))
    with pytest.raises(EngineError, match="quantity"):
        await engine.facade.approve(pending.workflow_id, "hana", quantity=0)
    await engine.stop()


async def until_position(engine: Any, driver: Any) -> Any:
    pending = await until_pending(engine, driver)
    wid = pending[0].workflow_id
    assert await engine.facade.approve(wid, "ivan") == SENT
    for _ in range(60):
        driver.advance(300)
        await engine.tasks.drain()
        mine = [p for p in engine.facade.positions() if p.workflow_id == wid]
        if mine:
            return mine[0]
    raise AssertionError("the entry order never filled")


async def test_manual_partial_close_and_roll(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path, auto_manage=[])
    # Two lots, so a partial close leaves one.
    ic = next(s for s in engine.facade.strategies() if s.name == "Iron Condor - 45 DTE")
    assert ic.sizing.quantity == 2
    for s in engine.facade.strategies():
        if s.name != ic.name:
            await engine.facade.save_strategy(dataclasses.replace(s, enabled=False), "test")
    pos = await until_position(engine, driver)
    wid = pos.workflow_id
    with pytest.raises(EngineError, match="25, 50, 75 or 100"):
        await engine.facade.close_position(wid, "ivan", pct=33)
    assert await engine.facade.close_position(wid, "ivan", pct=50) == SENT
    for _ in range(60):
        driver.advance(300)
        await engine.tasks.drain()
        view = next((p for p in engine.facade.positions() if p.workflow_id == wid), None)
        if view is not None and view.quantity == 1 and view.state is WorkflowState.MONITORING:
            break
    assert view is not None and view.quantity == 1
    old_expiry = min(leg.expiry for leg in view.legs)
    assert await engine.facade.roll_position(wid, "ivan") == SENT
    for _ in range(80):
        driver.advance(300)
        await engine.tasks.drain()
        view = next((p for p in engine.facade.positions() if p.workflow_id == wid), None)
        if view is not None and min(leg.expiry for leg in view.legs) > old_expiry:
            break
    assert view is not None and min(leg.expiry for leg in view.legs) > old_expiry
    # tastytrade takes at most four legs per order: the condor rolls as its put spread (close
    # two, open two), then its call spread, each a legal order that filled.
    roll = [o for o in await engine.store.orders(wid) if o.purpose.value == "roll"]
    assert [len(o.legs) for o in roll] == [4, 4]
    assert [{parse_occ(leg.symbol)[2] for leg in o.legs} for o in roll] == [
        {OptionType.PUT}, {OptionType.CALL}]
    assert all(o.status is OrderStatus.FILLED for o in roll)
    reasons = [t.reason for t in engine.facade.transitions(wid)]
    started = next(i for i, r in enumerate(reasons) if r.startswith("rolled by ivan"))
    assert "put spread, then call spread" in reasons[started]
    assert reasons[started + 1].startswith("put spread rolled at")
    assert reasons[started + 2].startswith("roll continues: call spread")
    assert reasons[started + 3].startswith("call spread rolled at")
    assert len(view.legs) == 4 and view.quantity == 1
    # The roll keeps the position's identity: one chain from the entry, its totals carried on.
    entry = next(o for o in await engine.store.orders(wid) if o.purpose.value == "open")
    assert view.opened_at == entry.created_at and view.chain_rolls == 2
    assert view.chain_credits > 0 and view.chain_debits > 0 and view.chain_fees > 0
    assert view.realised_pnl != 0  # the partial close and the rolled-away legs
    assert {a.action for a in engine.facade.audit_log()} >= {"close", "roll"}
    assert (await engine.store.integrity_check()) == []
    await engine.stop()


async def test_a_closed_position_journals_broker_fees_and_stops_streaming(tmp_path: Path) -> None:
    from tastydesk.engine.domain.chain import parse_occ, streamer_symbol

    engine, driver = await paper(tmp_path, auto_manage=[])
    pos = await until_position(engine, driver)
    wid = pos.workflow_id
    streamed = {streamer_symbol(*parse_occ(leg.symbol)) for leg in pos.legs}
    market = engine.broker._market
    assert streamed <= market.subscribed_options()
    assert pos.quantity == 1  # a one-lot: a partial close would take all of it
    with pytest.raises(EngineError, match="one unit is open"):
        await engine.facade.close_position(wid, "ivan", pct=50)
    assert await engine.facade.close_position(wid, "ivan") == SENT
    for _ in range(80):
        driver.advance(300)
        await engine.tasks.drain()
        if all(p.workflow_id != wid for p in engine.facade.positions()):
            break
    assert all(p.workflow_id != wid for p in engine.facade.positions())
    held = {streamer_symbol(*parse_occ(leg.symbol)) for p in engine.facade.positions() for leg in p.legs}
    shown = {leg.streamer_symbol for v in engine.facade.pending() for leg in v.proposal.legs}
    assert not (streamed - held - shown) & market.subscribed_options()
    # The journal charges what the broker charged (its dry-run figure per order), not a flat
    # per-contract estimate: the paper broker bills opening contracts only.
    entry = (await engine.store.journal())[-1]
    orders = [o for o in await engine.store.orders(wid) if o.filled_quantity > 0]
    assert all(o.fees is not None for o in orders)
    assert entry.fees == engine.broker.fees_paid > 0
    opened = sum(leg.quantity for o in orders if o.purpose.value == "open" for leg in o.legs)
    assert entry.fees != opened * 2 * Decimal("1.00")  # the old estimate billed the close too
    await engine.stop()


async def test_restart_with_a_part_filled_entry_reconciles_without_a_mismatch(
        tmp_path: Path) -> None:
    from tastydesk.engine.domain.enums import OrderAction
    from tastydesk.engine.domain.orders import OrderLeg, OrderRequest

    engine, driver = await paper(tmp_path, auto_manage=[])
    for s in engine.facade.strategies():
        if s.name != "Iron Condor - 45 DTE":  # two lots: an entry can fill one of them
            await engine.facade.save_strategy(dataclasses.replace(s, enabled=False), "test")
    pending = (await until_pending(engine, driver))[0]
    wid = pending.workflow_id
    legs = pending.proposal.legs
    short = next(leg for leg in legs if leg.side.value == "sell" and leg.option_type.value == "put")
    long_ = next(leg for leg in legs if leg.side.value == "buy" and leg.option_type.value == "put")
    # The same put spread, one lot, opened outside the app and adopted: a monitored position
    # sharing contracts with the condor about to be entered.
    outside = OrderRequest(pending.proposal.underlying,
                           (OrderLeg(short.symbol, OrderAction.SELL_TO_OPEN, 1),
                            OrderLeg(long_.symbol, OrderAction.BUY_TO_OPEN, 1)),
                           Decimal("0.05"), "outside-1")
    assert (await engine.broker.place(outside)).outcome is CommandOutcome.ACCEPTED
    for _ in range(12):
        driver.advance(60)
        await engine.tasks.drain()
        if await engine.broker.positions():
            break
    adopted = await engine.facade.adopt_position([short.symbol, long_.symbol],
                                          "Put Credit Spread - 30 DTE", "frank")
    if {w.workflow_id: w for w in engine.facade.workflows()}[wid].state \
            is not WorkflowState.PENDING_APPROVAL:
        wid = (await until_pending(engine, driver))[0].workflow_id
    assert await engine.facade.approve(wid, "ivan") == SENT
    part_filled = None
    for _ in range(120):
        driver.advance(60)
        await engine.tasks.drain()
        orders = await engine.store.orders(wid)
        part_filled = next((o for o in orders if 0 < o.filled_quantity < o.quantity), None)
        if part_filled is not None or any(o.filled_quantity == o.quantity for o in orders):
            break
    assert part_filled is not None, "the entry never part-filled"
    assert {w.workflow_id: w for w in engine.facade.workflows()}[wid].state is WorkflowState.EXECUTING
    shared = {p.symbol for p in await engine.store.positions(wid)} & \
        {p.symbol for p in await engine.store.positions(adopted)}
    assert shared
    await engine.stop()
    # Restart: the broker holds the adopted lot plus the condor's filled lot. Both are the
    # app's; counting only monitored positions against the broker reported a mismatch.
    engine2, _ = await open_paper_engine(tmp_path, seed=3)
    await engine2.start(start_driver=False)
    await engine2.tasks.drain()
    assert engine2.facade.health().reconciled
    assert [e.detail for e in await engine2.store.errors() if "mismatch" in e.message] == []
    await engine2.stop()
