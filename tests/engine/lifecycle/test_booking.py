"""The lifecycle component on the paper engine: transactions booked once, legs leaving the
monitored position, workflows ending as expired or assigned with their journal entry, shares as
a leg with multiplier 1, dividends as the workflow's cash."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.engine.bootstrap import open_paper_engine
from tastydesk.engine.domain.chain import occ_symbol
from tastydesk.engine.domain.enums import (
    Actor,
    AfterAssignment,
    OptionType,
    Side,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.lifecycle import LifecycleEvent, LifecycleKind
from tastydesk.engine.simulation import SIM_START

D = Decimal
EXPIRY = date(2026, 1, 16)
SHORT_PUT = occ_symbol("SPY", EXPIRY, OptionType.PUT, D("580"))
LONG_PUT = occ_symbol("SPY", EXPIRY, OptionType.PUT, D("575"))


async def engine_with_spread(tmp_path: Path) -> tuple[Any, int]:
    """A started paper engine monitoring a put spread (adopted: opened elsewhere)."""
    kernel, _driver = await open_paper_engine(tmp_path, seed=3, start=SIM_START + timedelta(hours=1))
    await kernel.start(start_driver=False)
    rec = await kernel.book.create("SPY", Actor.USER, "test", strategy_name="Put Credit Spread - 30 DTE",
                                   announce=False)
    now = kernel.clock.now()
    await kernel.store.apply_position_fill(rec.id, SHORT_PUT, -1, D("2.10"), now)
    await kernel.store.apply_position_fill(rec.id, LONG_PUT, 1, D("1.30"), now)
    await kernel.book.transition(rec.id, Trigger.ADOPT, Actor.USER, "adopted")
    await kernel.positions.load(rec.id)
    await kernel.tasks.drain()
    assert kernel.positions.get(rec.id) is not None
    return kernel, rec.id


def event(kernel: Any, tid: str, kind: LifecycleKind, symbol: str, quantity: int,
          price: str = "0", value: str = "0", early: bool = False) -> LifecycleEvent:
    return LifecycleEvent(tid, kind, symbol, "SPY", quantity, D(price), D(value),
                          kernel.clock.now(), early=early)


async def test_a_spread_that_expires_ends_expired_with_its_journal_entry(tmp_path: Path) -> None:
    kernel, wid = await engine_with_spread(tmp_path)
    try:
        assert await kernel.expirations.book_event(
            event(kernel, "T1", LifecycleKind.EXPIRED, SHORT_PUT, 1))
        assert kernel.book.state(wid) is WorkflowState.MONITORING  # one leg is still held
        assert [leg.symbol for leg in kernel.positions.get(wid).legs] == [LONG_PUT]
        assert await kernel.expirations.book_event(
            event(kernel, "T2", LifecycleKind.EXPIRED, LONG_PUT, -1))
        await kernel.tasks.drain()
        assert kernel.book.state(wid) is WorkflowState.COMPLETED
        assert kernel.positions.get(wid) is None
        store = kernel.store
        triggers = [t.trigger for t in await store.transitions(wid)]
        assert Trigger.EXPIRED in triggers and Trigger.CLOSED not in triggers
        [entry] = await store.journal()
        assert entry.closing_rule == "expired"
        assert entry.realised_pnl == D("0")  # no fills of its own: the removals move no cash
        # The same transaction again (a restart reading it back) books nothing.
        assert not await kernel.expirations.book_event(
            event(kernel, "T2", LifecycleKind.EXPIRED, LONG_PUT, -1))
        assert len(await store.lifecycle_bookings()) == 2
        assert await store.integrity_check() == []
    finally:
        await kernel.stop()


async def test_an_assigned_short_leg_leaves_shares_as_a_leg_and_a_follow_up(
        tmp_path: Path) -> None:
    kernel, wid = await engine_with_spread(tmp_path)
    try:
        await kernel.expirations.book_event(
            event(kernel, "A1", LifecycleKind.ASSIGNED, SHORT_PUT, 1, early=True))
        await kernel.expirations.book_event(
            event(kernel, "A2", LifecycleKind.SHARES_DELIVERED, "SPY", 100, "580", "-58000.00"))
        await kernel.tasks.drain()
        mon = kernel.positions.get(wid)
        assert kernel.book.state(wid) is WorkflowState.MONITORING
        shares = next(leg for leg in mon.legs if leg.symbol == "SPY")
        assert (shares.quantity, shares.multiplier, shares.entry_price) == (100, 1, D("580"))
        assert shares.option_type is None and shares.ratio == 1  # 100 shares: one contract
        view = next(v for v in kernel.facade.positions() if v.workflow_id == wid)
        assert {leg.symbol: leg.multiplier for leg in view.legs} == {"SPY": 1, LONG_PUT: 100}
        # The strategy closes after an assignment: proposed to the approval queue (unattended
        # sending is off), shares and the put together in one order, with its rationale.
        [action] = [a for a in await kernel.store.rule_actions(wid)
                    if a.rule_type == "after_assignment"]
        assert action.action == "close" and action.status == "proposed to the approval queue"
        [pending] = kernel.facade.pending()
        proposal = pending.proposal
        assert pending.workflow_id == wid and proposal.follow_up is AfterAssignment.CLOSE
        assert [leg.symbol for leg in proposal.legs] == [LONG_PUT]
        assert [(s.symbol, s.side, s.quantity) for s in proposal.shares] == [
            ("SPY", Side.SELL, 100)]
        why = " ".join(proposal.rationale)
        assert "holding +100 SPY shares, +1 575 put 2026-01-16" in why
        assert "'close' after an assignment" in why and "in one order" in why
        timeline = [(t.trigger, t.reason) for t in await kernel.store.transitions(wid)]
        assert timeline[-2][0] is Trigger.DELIVERED and "assigned: +100 SPY" in timeline[-2][1]
        assert timeline[-1][0] is Trigger.FOLLOW_UP and "follow-up proposed" in timeline[-1][1]
        # Nothing of it is sent before approval.
        assert not [o for o in await kernel.store.orders(wid)
                    if any(leg.symbol == "SPY" for leg in o.legs)]
        # A dividend on those shares is the workflow's cash.
        await kernel.expirations.book_event(
            event(kernel, "A3", LifecycleKind.DIVIDEND, "SPY", 0, "1.50", "150.00"))
        booked = await kernel.store.lifecycle_bookings(wid)
        assert [b.event.transaction_id for b in booked] == ["A1", "A2", "A3"]
        # The long put expires, the shares are still held: the workflow goes on.
        await kernel.expirations.book_event(
            event(kernel, "A4", LifecycleKind.EXPIRED, LONG_PUT, -1))
        await kernel.tasks.drain()
        assert [leg.symbol for leg in kernel.positions.get(wid).legs] == ["SPY"]
        assert kernel.counters["lifecycle:early_assigned"] == 1
    finally:
        await kernel.stop()


async def test_a_spread_assigned_and_exercised_to_flat_ends_assigned(tmp_path: Path) -> None:
    kernel, wid = await engine_with_spread(tmp_path)
    try:
        for ev in (event(kernel, "B1", LifecycleKind.ASSIGNED, SHORT_PUT, 1),
                   event(kernel, "B2", LifecycleKind.SHARES_DELIVERED, "SPY", 100, "580",
                         "-58000.00"),
                   event(kernel, "B3", LifecycleKind.EXERCISED, LONG_PUT, -1),
                   event(kernel, "B4", LifecycleKind.SHARES_DELIVERED, "SPY", -100, "575",
                         "57500.00")):
            await kernel.expirations.book_event(ev)
        await kernel.tasks.drain()
        assert kernel.book.state(wid) is WorkflowState.COMPLETED
        [entry] = await kernel.store.journal()
        assert entry.closing_rule == "assigned"
        assert entry.realised_pnl == D("-500.00")  # the deliveries' cash, to the cent
    finally:
        await kernel.stop()


async def test_a_transaction_on_nothing_the_app_holds_is_kept_not_booked_to_a_workflow(
        tmp_path: Path) -> None:
    kernel, wid = await engine_with_spread(tmp_path)
    try:
        other = occ_symbol("QQQ", EXPIRY, OptionType.CALL, D("600"))
        assert await kernel.expirations.book_event(
            LifecycleEvent("X1", LifecycleKind.EXPIRED, other, "QQQ", 1, D("0"), D("0"),
                           kernel.clock.now()))
        [booking] = await kernel.store.lifecycle_bookings()
        assert booking.workflow_id is None
        assert kernel.book.state(wid) is WorkflowState.MONITORING
    finally:
        await kernel.stop()


async def test_one_transaction_on_legs_two_workflows_hold_is_split_between_them(
        tmp_path: Path) -> None:
    kernel, first = await engine_with_spread(tmp_path)
    try:
        rec = await kernel.book.create("SPY", Actor.USER, "test",
                                       strategy_name="Put Credit Spread - 30 DTE", announce=False)
        now = kernel.clock.now()
        await kernel.store.apply_position_fill(rec.id, SHORT_PUT, -1, D("2.00"), now)
        await kernel.book.transition(rec.id, Trigger.ADOPT, Actor.USER, "adopted")
        await kernel.positions.load(rec.id)
        # The broker assigns both contracts in one row and delivers 200 shares in one row.
        await kernel.expirations.book_event(
            event(kernel, "S1", LifecycleKind.ASSIGNED, SHORT_PUT, 2))
        await kernel.expirations.book_event(
            event(kernel, "S2", LifecycleKind.SHARES_DELIVERED, "SPY", 200, "580", "-116000.00"))
        await kernel.tasks.drain()
        store = kernel.store
        parts = {(b.event.transaction_id, b.workflow_id, b.event.quantity, b.event.value)
                 for b in await store.lifecycle_bookings()}
        assert parts == {("S1", first, 1, D("0")), ("S1/2", rec.id, 1, D("0")),
                         ("S2", first, 100, D("-58000.00")),
                         ("S2/2", rec.id, 100, D("-58000.00"))}
        held = {(p.workflow_id, p.symbol): p.quantity for p in await store.positions(open_only=True)}
        assert held[(first, "SPY")] == 100 and held[(rec.id, "SPY")] == 100
        assert (first, SHORT_PUT) not in held and (rec.id, SHORT_PUT) not in held
        assert not await kernel.expirations.book_event(
            event(kernel, "S1", LifecycleKind.ASSIGNED, SHORT_PUT, 2))  # read again: nothing
    finally:
        await kernel.stop()
