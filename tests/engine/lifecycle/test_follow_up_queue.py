"""The after-assignment follow-up on the scripted broker: proposed into the approval queue with
its rationale, nothing sent until it is approved; approval sends one covered-stock order within
the trader's limit; reject and expiry leave the shares; a strategy may allow it unattended."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from tastydesk.engine.domain.chain import occ_symbol, streamer_symbol
from tastydesk.engine.domain.enums import (
    ActionOutcome,
    AfterAssignment,
    OptionType,
    OrderAction,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.lifecycle import LifecycleEvent, LifecycleKind
from tastydesk.engine.domain.results import SENT
from tests.kit.world import World, world

D = Decimal
EXPIRY = date(2026, 2, 20)
SHORT_PUT = occ_symbol("SPY", EXPIRY, OptionType.PUT, D("605"))
LONG_PUT = occ_symbol("SPY", EXPIRY, OptionType.PUT, D("595"))
STRATEGY = "Put Credit Spread - 30 DTE"


async def assigned(w: World, strategy: str = STRATEGY) -> int:
    """A put spread monitored by ``strategy`` whose short put was assigned: +100 SPY at 605
    and the long put left."""
    k = w.kernel
    wid = await w.workflow_in("SPY", Trigger.ADOPT, strategy_name=strategy)
    now = w.clock.now()
    await k.store.apply_position_fill(wid, SHORT_PUT, -1, D("7.10"), now)
    await k.store.apply_position_fill(wid, LONG_PUT, 1, D("3.30"), now)
    w.broker.quote(LONG_PUT, streamer_symbol("SPY", EXPIRY, OptionType.PUT, D("595")),
                   "1.00", "1.20")
    await k.positions.load(wid)
    await k.positions.set_rules_paused(wid, True)
    await w.step()
    for event in (LifecycleEvent("A1", LifecycleKind.ASSIGNED, SHORT_PUT, "SPY", 1, D("0"),
                                 D("0"), now, early=True),
                  LifecycleEvent("A2", LifecycleKind.SHARES_DELIVERED, "SPY", "SPY", 100,
                                 D("605"), D("-60500.00"), now)):
        assert await k.expirations.book_event(event)
    await w.step()
    return wid


async def test_the_follow_up_waits_in_the_queue_and_approval_sends_one_order(
        tmp_path: Path) -> None:
    w = await world(tmp_path)
    try:
        wid = await assigned(w)
        k = w.kernel
        [pending] = k.facade.pending()
        p = pending.proposal
        assert pending.workflow_id == wid and p.follow_up is AfterAssignment.CLOSE
        assert "'close' after an assignment" in p.rationale[0]
        assert p.rationale[-1].startswith("close +100 SPY shares and +1 595 put")
        # The shares price at the underlying's last price (600) until they stream.
        assert p.mid_price == D("601.10") and p.natural_price == D("601.00")
        assert k.book.state(wid) is WorkflowState.MONITORING
        assert w.broker.placed == []  # nothing goes out before approval
        timeline = [t.trigger for t in k.facade.transitions(wid)]
        assert timeline[-2:] == [Trigger.DELIVERED, Trigger.FOLLOW_UP]

        assert await k.facade.approve(wid, "trader") == SENT
        await w.step()
        [order] = w.broker.placed
        assert sorted((leg.symbol, leg.action, leg.quantity) for leg in order.legs) == sorted(
            [(LONG_PUT, OrderAction.SELL_TO_CLOSE, 1), ("SPY", OrderAction.SELL_TO_CLOSE, 100)])
        assert order.price <= D("601.10")
        assert k.facade.pending() == []
        assert k.book.state(wid) is WorkflowState.CLOSING
        [decision] = k.facade.decisions()
        assert decision.decision == "approve" and "follow-up approved" in decision.reason

        snap = w.broker.live(order.external_id)
        assert snap is not None
        w.broker.fill(snap.order_id, 1)
        await w.step()
        assert k.book.state(wid) is WorkflowState.COMPLETED
        [entry] = await k.store.journal()
        assert entry.closing_rule == "after_assignment"
    finally:
        await w.close()


async def test_a_follow_up_beyond_the_limit_comes_back_re_priced(tmp_path: Path) -> None:
    w = await world(tmp_path)
    try:
        wid = await assigned(w)
        k = w.kernel
        # The long put's bid collapses: the close is worth less than the trader's limit.
        w.broker.quote(LONG_PUT, streamer_symbol("SPY", EXPIRY, OptionType.PUT, D("595")),
                       "0.10", "0.20")
        await w.step()
        outcome = await k.facade.approve(wid, "trader", price=D("601.10"))
        await w.step()
        assert outcome.outcome is ActionOutcome.REPRICED and "past the limit" in outcome.detail
        assert w.broker.placed == []
        [again] = k.facade.pending()
        assert again.proposal.mid_price == D("600.15") and "past the limit" in again.returned
        assert k.book.state(wid) is WorkflowState.MONITORING
    finally:
        await w.close()


async def test_a_rejected_follow_up_leaves_the_shares_and_an_expired_one_returns_at_the_open(
        tmp_path: Path) -> None:
    w = await world(tmp_path)
    try:
        wid = await assigned(w)
        k = w.kernel
        await k.facade.reject(wid, "trader", "I keep them for now")
        await w.step()
        assert k.facade.pending() == [] and w.broker.placed == []
        last = k.facade.transitions(wid)[-1]
        assert last.trigger is Trigger.FOLLOW_UP and "rejected by trader" in last.reason
        assert k.book.state(wid) is WorkflowState.MONITORING

        # Proposed again (a restart does that): this time nobody decides in the window.
        await k.followups.resume()
        await w.step()
        assert len(k.facade.pending()) == 1
        await w.step(k.settings.config.approval_expiry_minutes * 60 + 1)
        assert k.facade.pending() == []
        last = k.facade.transitions(wid)[-1]
        assert last.trigger is Trigger.FOLLOW_UP and "proposed again at the next open" in last.reason
        opening = k.calendar.next_open(w.clock.now() + timedelta(hours=8))
        await w.step((opening - w.clock.now()).total_seconds() + 600)
        assert len(k.facade.pending()) == 1
    finally:
        await w.close()


async def test_a_strategy_that_allows_it_sends_the_follow_up_unattended(tmp_path: Path) -> None:
    w = await world(tmp_path)
    try:
        k = w.kernel
        strategy = k.strategies.get(STRATEGY)
        assert strategy is not None
        await k.facade.save_strategy(dataclasses.replace(
            strategy, name="Unattended spread", after_assignment_auto=True), "test")
        await k.facade.set_automation(True, "test")
        wid = await assigned(w, "Unattended spread")
        await w.step()
        [order] = w.broker.placed
        assert {leg.symbol for leg in order.legs} == {"SPY", LONG_PUT}
        assert k.book.state(wid) is WorkflowState.CLOSING
        [decision] = k.facade.decisions()
        assert decision.user == "unattended (strategy policy)"
    finally:
        await w.close()


async def test_a_broker_that_refuses_shares_with_options_closes_the_options_first(
        tmp_path: Path) -> None:
    """Where the dry run refuses the covered-stock order, the options close first, then the
    shares: each step its own proposal, the shares priced per share."""
    w = await world(tmp_path)
    try:
        w.broker.dry_run_errors = ("legs[0].symbol: shares of SPY trade in an order of their own",)
        wid = await assigned(w)
        w.broker.dry_run_errors = ()
        k = w.kernel
        [first] = k.facade.pending()
        assert first.proposal.shares == () and [leg.symbol for leg in first.proposal.legs] == [
            LONG_PUT]
        assert "first, then the shares" in first.proposal.rationale[-1]
        assert await k.facade.approve(wid, "trader") == SENT
        await w.step()
        [order] = w.broker.placed
        w.broker.fill(w.broker.live(order.external_id).order_id, 1)  # type: ignore[union-attr]
        await w.step()
        [second] = k.facade.pending()
        assert [(s.symbol, s.quantity) for s in second.proposal.shares] == [("SPY", 100)]
        assert second.proposal.quantity == 100 and second.proposal.mid_price == D("600.00")
        assert await k.facade.approve(wid, "trader") == SENT
        await w.step()
        shares_order = w.broker.placed[-1]
        assert [(leg.symbol, leg.quantity) for leg in shares_order.legs] == [("SPY", 100)]
        w.broker.fill(w.broker.live(shares_order.external_id).order_id,  # type: ignore[union-attr]
                      100)
        await w.step()
        assert k.book.state(wid) is WorkflowState.COMPLETED
    finally:
        await w.close()
