"""Portfolio risk refuses opening orders through the facade (scripted broker): the per-trade cap
on a modify, the allocation counting pending approvals and working orders, the per-symbol and
total position limits, in a bulk approval and on a re-priced trade; each with its reason, and
nothing sent or recorded for a refused trade."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.chain import Quote
from tastydesk.engine.domain.enums import ActionOutcome, Trigger, WorkflowState
from tastydesk.engine.domain.events import QuoteReceived
from tastydesk.engine.risk.checks import position_count_problem
from tests.engine.approvals.test_approval_desk import LONG, SHORT
from tests.engine.store.conftest import make_proposal
from tests.engine.test_engine import count_placed, paper, until_pending
from tests.kit.world import World, world

BP = D("930")  # the test proposal: two lots, 465 each


@pytest.fixture(name="make")
async def fixture_make(tmp_path: Path) -> AsyncIterator[Any]:
    worlds: list[World] = []

    async def make(**config: Any) -> World:
        w = await world(tmp_path / str(len(worlds)), **config)
        worlds.append(w)
        return w

    yield make
    for w in worlds:
        await w.close()


async def pending(w: World) -> int:
    """A SPY proposal (buying power 930) waiting for approval, its legs quoted."""
    wid = await w.workflow_in("SPY", Trigger.SCAN)
    proposal = make_proposal(w.clock.now())
    strategy = w.kernel.strategies.get(proposal.strategy_name)
    assert strategy is not None
    await w.kernel.desk.propose(wid, proposal, strategy)
    w.broker.quote(SHORT, proposal.legs[0].streamer_symbol, "1.43", "1.47")
    w.broker.quote(LONG, proposal.legs[1].streamer_symbol, "1.08", "1.12")
    await w.step()
    return wid


def test_the_position_limits_count_the_other_workflows() -> None:
    config = EngineConfig.from_dict({**EngineConfig().to_dict(), "max_workflows_per_symbol": 2,
                                     "max_workflows_total": 3})
    assert position_count_problem("SPY", {"SPY": 1, "QQQ": 1}, config) is None
    assert position_count_problem("SPY", {"SPY": 2}, config) == (
        "per-symbol limit: 2 other SPY position(s) open, working or pending approval; at most 2")
    assert position_count_problem("IWM", {"SPY": 2, "QQQ": 1}, config) == (
        "total limit: 3 other position(s) open, working or pending approval; at most 3")


async def test_a_modify_above_the_per_trade_cap_is_refused(make: Any) -> None:
    w = await make()
    wid = await pending(w)
    result = await w.kernel.facade.approve(wid, "lu", quantity=11)  # 11 x 465 = 5115
    assert result.outcome is ActionOutcome.NOT_SENT
    assert result.detail == ("11 lots: buying power 5115.00 above the per-trade maximum 5000")
    assert w.broker.placed == [] and w.store.decisions() == []
    assert w.kernel.book.state(wid) is WorkflowState.PENDING_APPROVAL
    assert (await w.kernel.facade.approve(wid, "lu", quantity=10)).sent  # 4650 fits


async def test_a_bulk_approval_counts_pending_and_working_trades(make: Any) -> None:
    # 2 % of the 100,000 account: 2,000 of buying power, room for two 930 trades.
    w = await make(max_allocation_pct="2", max_workflows_per_symbol=5)
    wids = [await pending(w) for _ in range(3)]
    refused = "2 lots: allocation: 1860 used or committed + 930.00 exceeds 2000.00"
    # Approved together (one after another, as the queue's bulk approval does): each counts
    # the other two waiting for approval, so none fits.
    results = [await w.kernel.facade.approve(wid, "mo") for wid in wids]
    assert [(r.outcome, r.detail) for r in results] == [(ActionOutcome.NOT_SENT, refused)] * 3
    assert w.broker.placed == [] and w.store.decisions() == []
    # With one rejected, the other two fit, the first one's working order counted for the second.
    await w.kernel.facade.reject(wids[2], "mo", "enough SPY")
    results = [await w.kernel.facade.approve(wid, "mo") for wid in wids[:2]]
    assert [r.outcome for r in results] == [ActionOutcome.SENT, ActionOutcome.SENT]
    await w.step()
    kinds = [c.kind for c in w.kernel.risk.commitments()]
    assert kinds == ["working order", "working order"]
    late = await pending(w)  # the two working orders leave no room for a third
    result = await w.kernel.facade.approve(late, "mo")
    assert (result.outcome, result.detail) == (ActionOutcome.NOT_SENT, refused)
    assert len(w.broker.placed) == 2


async def test_the_per_symbol_limit_counts_pending_and_working_positions(make: Any) -> None:
    w = await make(max_workflows_per_symbol=1)
    first, second = await pending(w), await pending(w)
    result = await w.kernel.facade.approve(first, "ned")
    assert result.outcome is ActionOutcome.NOT_SENT
    assert result.detail == ("2 lots: per-symbol limit: 1 other SPY position(s) open, working "
                             "or pending approval; at most 1")
    await w.kernel.facade.reject(second, "ned", "one is enough")
    assert (await w.kernel.facade.approve(first, "ned")).sent
    await w.step()
    third = await pending(w)  # the first is working now
    result = await w.kernel.facade.approve(third, "ned", price=D("0.40"))  # a modify too
    assert result.outcome is ActionOutcome.NOT_SENT and "per-symbol limit" in result.detail
    assert len(w.broker.placed) == 1


async def test_a_returned_and_reproposed_trade_meets_the_checks_again(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path)
    view = (await until_pending(engine, driver))[0]
    wid = view.workflow_id
    # The market moves against the trade (every leg at half its price: the credit halves, the
    # quotes stay consistent): approval returns it re-priced from the chain.
    for leg in view.proposal.legs:
        engine.bus.publish(QuoteReceived(Quote(leg.streamer_symbol, leg.bid / 2, leg.ask / 2,
                                               engine.clock.now())))
    result = await engine.facade.approve(wid, "ola")
    await engine.tasks.drain()
    assert result.outcome is ActionOutcome.REPRICED, result
    placed = count_placed(engine)
    (returned,) = [p for p in engine.facade.pending() if p.workflow_id == wid]
    assert returned.returned and returned.proposal_id != view.proposal_id
    result = await engine.facade.approve(wid, "ola", quantity=30)
    await engine.tasks.drain()
    assert result.outcome is ActionOutcome.NOT_SENT
    assert result.detail.startswith("30 lots: buying power ")
    assert "above the per-trade maximum" in result.detail
    assert placed == []
    await engine.stop()
