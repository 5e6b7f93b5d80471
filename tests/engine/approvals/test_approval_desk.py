"""The approval desk on the scripted broker: approve, modify, reject, expire; a double approval
sends one order; a moved market is re-checked, never sent at the old price."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tastydesk.engine.clock import SimClock
from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.enums import ActionOutcome, Decision, Trigger, WorkflowState
from tastydesk.engine.domain.events import Alert, DecisionRecorded
from tastydesk.engine.errors import EngineError
from tests.engine.store.conftest import make_proposal
from tests.kit.world import START, World, world

SHORT, LONG = "SPY   260220P00570000", "SPY   260220P00565000"


@pytest.fixture(name="w")
async def fixture_world(tmp_path: Path) -> AsyncIterator[World]:
    w = await world(tmp_path)
    yield w
    await w.close()


async def pending(w: World, short_mid: str = "1.45") -> int:
    """A proposal (2 units, 0.35 credit) waiting for approval, its legs quoted live."""
    wid = await w.workflow_in("SPY", Trigger.SCAN)
    proposal = make_proposal(w.clock.now())
    strategy = w.kernel.strategies.get(proposal.strategy_name)
    assert strategy is not None
    await w.kernel.desk.propose(wid, proposal, strategy)
    mid = Decimal(short_mid)
    w.broker.quote(SHORT, proposal.legs[0].streamer_symbol, str(mid - Decimal("0.02")),
                   str(mid + Decimal("0.02")))
    w.broker.quote(LONG, proposal.legs[1].streamer_symbol, "1.08", "1.12")
    await w.step()
    return wid


async def test_double_approval_sends_exactly_one_order(w: World) -> None:
    wid = await pending(w)
    recorded: list[DecisionRecorded] = []
    w.kernel.bus.subscribe(DecisionRecorded, recorded.append)
    first, second = await asyncio.gather(w.kernel.facade.approve(wid, "ann"),
                                         w.kernel.facade.approve(wid, "ann"))
    assert sorted([first.outcome, second.outcome]) == [ActionOutcome.IN_PROGRESS,
                                                        ActionOutcome.SENT]
    assert (await w.kernel.facade.approve(wid, "ann")).outcome is ActionOutcome.NOT_PENDING
    await w.step()
    assert len(w.broker.placed) == 1
    assert w.broker.placed[0].price == Decimal("0.35")
    assert [r.record.decision for r in recorded] == [Decision.APPROVE]
    assert [d.user for d in w.kernel.facade.decisions()] == ["ann"]
    assert w.kernel.book.state(wid) is WorkflowState.EXECUTING
    assert w.kernel.facade.pending() == []


async def test_modify_sets_the_trader_limit_and_quantity(w: World) -> None:
    wid = await pending(w)
    result = await w.kernel.facade.approve(wid, "bo", price=Decimal("0.33"), quantity=1)
    assert result.sent
    (order,) = w.broker.placed
    assert order.price == Decimal("0.35")  # worked from the mid...
    await w.step(6 * 3600)
    walked = [p for _id, p in w.broker.replaced]
    assert walked and min(walked) >= Decimal("0.33")  # ...toward the limit, never past it
    assert [leg.quantity for leg in order.legs] == [1, 1]
    (decision,) = w.store.decisions()
    assert decision.decision == Decision.MODIFY and decision.quantity == 1


async def test_reject_needs_a_reason_then_cools_down_and_scans_again(w: World) -> None:
    wid = await pending(w)
    with pytest.raises(EngineError, match="reason"):
        await w.kernel.facade.reject(wid, "cy", " ")
    assert w.kernel.book.state(wid) is WorkflowState.PENDING_APPROVAL
    await w.kernel.facade.reject(wid, "cy", "earnings next week")
    assert w.kernel.book.state(wid) is WorkflowState.REJECTED
    assert w.store.decisions()[-1].reason == "earnings next week"
    await w.step(w.kernel.settings.config.reject_cooldown_minutes * 60 + 1)
    assert w.kernel.book.state(wid) is WorkflowState.SCANNING
    assert w.broker.placed == []


async def test_an_unanswered_proposal_expires(w: World) -> None:
    wid = await pending(w)
    await w.step(w.kernel.settings.config.approval_expiry_minutes * 60 + 1)
    assert w.kernel.book.state(wid) is not WorkflowState.PENDING_APPROVAL
    assert w.kernel.facade.pending() == []
    assert (await w.kernel.facade.approve(wid, "dee")).outcome is ActionOutcome.NOT_PENDING
    assert w.broker.placed == []


async def test_a_market_moved_past_the_limit_returns_the_trade_with_the_reason(w: World) -> None:
    alerts: list[Alert] = []
    w.kernel.bus.subscribe(Alert, alerts.append)
    wid = await pending(w, short_mid="1.15")  # mid now 0.05, far below the proposed 0.35 credit
    result = await w.kernel.facade.approve(wid, "eve")
    assert result.outcome in (ActionOutcome.REPRICED, ActionOutcome.WITHDRAWN)
    assert w.broker.placed == []
    reasons = [t.reason for t in w.kernel.facade.transitions(wid)]
    assert ("approved by eve at limit 0.35 cr, not sent: mid moved from 0.35 cr to 0.05 cr, "
            "past the limit 0.35 cr; re-pricing") in reasons
    returned = [a for a in alerts if a.title.startswith("Trade returned: SPY")]
    assert len(returned) == 1 and "from 0.35 cr to 0.05 cr" in returned[0].message
    if result.outcome is ActionOutcome.REPRICED:
        (view,) = w.kernel.facade.pending()
        assert view.returned.startswith("mid moved from 0.35 cr to 0.05 cr")


@pytest.mark.parametrize(("short_mid", "start"), [
    ("1.55", "0.45"),  # the mid moved in the trader's favour: worked from the new mid
    ("1.42", "0.32"),  # moved against, within the tolerance: worked from the new mid
])
async def test_a_market_within_the_limit_sends_without_a_bounce(w: World, short_mid: str,
                                                                start: str) -> None:
    wid = await pending(w, short_mid=short_mid)
    natural = w.kernel.facade.pending()[0].proposal.natural_price
    assert (await w.kernel.facade.approve(wid, "fay")).sent
    (order,) = w.broker.placed
    assert order.price == Decimal(start)
    assert w.kernel.book.state(wid) is WorkflowState.EXECUTING
    reasons = [t.reason for t in w.kernel.facade.transitions(wid)]
    # the limit recorded is the one the order is worked toward: the proposal's natural
    assert any(r.startswith(f"approved by fay at limit {natural:.2f} cr; sent with the mid at")
               for r in reasons)
    # Approved as proposed: the walk concedes toward natural, never past the proposal's
    # natural (a floor at the proposal's mid would keep the entry at mid for its whole walk).
    for _ in range(6):
        await w.step(120)
    assert w.broker.replaced and min(p for _id, p in w.broker.replaced) < Decimal(start)
    assert all(p >= natural for _id, p in w.broker.replaced)


async def test_a_modified_limit_holds_until_the_market_moves_past_it(w: World) -> None:
    wid = await pending(w, short_mid="1.35")  # mid 0.25: past 0.35, within a limit of 0.28
    assert (await w.kernel.facade.approve(wid, "gus", price=Decimal("0.28"))).sent
    (order,) = w.broker.placed
    assert order.price == Decimal("0.28")


async def test_the_approval_window_runs_on_the_wall_clock_not_paper_time(tmp_path: Path) -> None:
    wall = SimClock(START)
    w = await world(tmp_path, wall=wall)
    try:
        wid = await pending(w)
        minutes = w.kernel.settings.config.approval_expiry_minutes
        (view,) = w.kernel.facade.pending()
        assert view.expires_at == START + timedelta(minutes=minutes)
        await w.step(60 * 60)  # an hour of paper time (a minute of real time at x60)
        assert w.kernel.book.state(wid) is WorkflowState.PENDING_APPROVAL
        wall.advance(START + timedelta(minutes=minutes, seconds=-1))
        await w.step()
        assert w.kernel.book.state(wid) is WorkflowState.PENDING_APPROVAL
        wall.advance(START + timedelta(minutes=minutes, seconds=1))
        await w.step()
        assert w.kernel.book.state(wid) is not WorkflowState.PENDING_APPROVAL
        reasons = [t.reason for t in w.kernel.facade.transitions(wid)]
        assert "approval window expired" in reasons
    finally:
        await w.close()


def test_the_default_approval_window_is_five_real_minutes() -> None:
    assert EngineConfig().approval_expiry_minutes == 5


async def test_no_duplicate_of_a_pending_or_open_trade_for_the_same_strategy(w: World) -> None:
    wid = await pending(w)
    name = w.kernel.facade.pending()[0].proposal.strategy_name
    other = await w.workflow_in("SPY", Trigger.SCAN)
    held = w.kernel.desk.hold_back(other, "SPY", name)
    assert held is not None and held[0] == f"{name} on SPY is already pending (workflow #{wid})"
    assert w.kernel.desk.hold_back(other, "SPY", "Another strategy") is None
    assert w.kernel.desk.hold_back(other, "QQQ", name) is None
    assert w.kernel.desk.hold_back(wid, "SPY", name) is None  # a workflow never blocks itself
    assert (await w.kernel.facade.approve(wid, "hal")).sent
    held = w.kernel.desk.hold_back(other, "SPY", name)
    assert held is not None and held[0].endswith(f"is already open (workflow #{wid})")


async def test_two_workflows_proposing_the_same_trade_at_once_queue_it_once(w: World) -> None:
    first = await w.workflow_in("SPY", Trigger.SCAN)
    second = await w.workflow_in("SPY", Trigger.SCAN)
    proposal = make_proposal(w.clock.now())
    strategy = w.kernel.strategies.get(proposal.strategy_name)
    assert strategy is not None
    saving = asyncio.ensure_future(w.kernel.desk.propose(first, proposal, strategy))
    await asyncio.sleep(0)  # the first is saving its proposal, not yet pending
    held = w.kernel.desk.hold_back(second, "SPY", strategy.name)
    assert held is not None and f"already pending (workflow #{first})" in held[0]
    await saving
    assert [v.workflow_id for v in w.kernel.facade.pending()] == [first]


async def test_a_symbol_cools_down_after_an_entry_fill(w: World) -> None:
    filled = await w.workflow_in("NVDA", Trigger.SCAN, Trigger.PROPOSE, Trigger.APPROVE,
                                 Trigger.FILL, strategy_name="Strangle")
    fill_time = w.clock.now()
    other = await w.workflow_in("NVDA", Trigger.SCAN)
    cooldown = timedelta(minutes=w.kernel.settings.config.restart_cooldown_minutes)
    held = w.kernel.desk.hold_back(other, "NVDA", "Iron Condor")
    assert held is not None and held[1] == fill_time + cooldown
    et = ZoneInfo("America/New_York")
    local_fill, local_end = fill_time.astimezone(et), held[1].astimezone(et)
    assert held[0] == (f"NVDA cools down after its fill at {local_fill:%H:%M} "
                       f"{local_fill.tzname()} until {local_end:%H:%M}")
    assert filled != other
    await w.step(cooldown.total_seconds() + 1)
    assert w.kernel.desk.hold_back(other, "NVDA", "Iron Condor") is None
