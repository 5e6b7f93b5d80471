"""A follow-up across a restart of the app on the same database: one still pending comes back as
it was (same proposal, same window); one dropped because its position left monitoring is ended
in the store (withdrawn), so the restart proposes a fresh one instead of finding it pending."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tastydesk.engine.domain.chain import Quote, streamer_symbol
from tastydesk.engine.domain.enums import OptionType, ProposalStatus, Trigger, WorkflowState
from tastydesk.engine.domain.events import QuoteReceived
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.lifecycle.followup import RETRY_DELAY
from tests.engine.lifecycle.test_follow_up_queue import EXPIRY, LONG_PUT, assigned
from tests.kit.world import World, world

D = Decimal


def proposed(w: World, wid: int) -> list[int]:
    """The follow-up proposals saved for ``wid``, oldest first (from its timeline)."""
    return [t.payload["proposal_id"] for t in w.kernel.facade.transitions(wid)
            if t.trigger is Trigger.FOLLOW_UP and "proposal_id" in t.payload]


async def test_a_pending_follow_up_comes_back_after_a_restart(tmp_path: Path) -> None:
    w = await world(tmp_path)
    try:
        wid = await assigned(w)
        [before] = w.kernel.facade.pending()
    finally:
        await w.close()
    w2 = await world(tmp_path)  # the same database file, a new kernel
    try:
        await w2.step()
        [after] = w2.kernel.facade.pending()
        assert (after.workflow_id, after.proposal_id) == (wid, before.proposal_id)
        assert after.expires_at == before.expires_at
        assert after.proposal.rationale == before.proposal.rationale
        assert proposed(w2, wid) == [before.proposal_id]  # nothing proposed anew
        assert w2.store.get_proposal(before.proposal_id).status == ProposalStatus.PENDING
    finally:
        await w2.close()


async def test_a_follow_up_dropped_when_its_position_left_monitoring_ends_withdrawn(
        tmp_path: Path) -> None:
    w = await world(tmp_path)
    try:
        wid = await assigned(w)
        k = w.kernel
        [pending] = k.facade.pending()
        # The trader closes the position by hand while the follow-up waits: it leaves the queue.
        k.bus.publish(QuoteReceived(Quote("SPY", D("600.00"), D("600.10"), w.clock.now())))
        await w.step()
        outcome = await k.facade.close_position(wid, "trader")
        assert outcome.sent, outcome.detail
        await w.step()
        assert k.book.state(wid) is WorkflowState.CLOSING and k.facade.pending() == []
        [order] = w.broker.placed
        assert OrderLeg("SPY", order.legs[0].action, 100) in order.legs
        assert w.store.get_proposal(pending.proposal_id).status == ProposalStatus.WITHDRAWN
    finally:
        await w.close()
    # A restart on the same file: the closing order never reached this broker, so the position
    # is monitored again, without its long put's quote for now.
    w2 = await world(tmp_path)
    try:
        await w2.step()
        assert w2.kernel.book.state(wid) is WorkflowState.MONITORING
        assert w2.store.get_proposal(pending.proposal_id).status == ProposalStatus.WITHDRAWN
        assert w2.kernel.facade.pending() == []  # no quote to price the close yet
        # once the long put is quoted again the follow-up is proposed anew (the old one ended),
        # by the retry a few minutes later: nothing has to restart the app for it
        await w2.step(RETRY_DELAY.total_seconds() - 1)
        w2.broker.quote(LONG_PUT, streamer_symbol("SPY", EXPIRY, OptionType.PUT, D("595")),
                        "1.00", "1.20")
        await w2.step()
        assert w2.kernel.facade.pending() == []
        await w2.step(1)
        [fresh] = w2.kernel.facade.pending()
        assert fresh.proposal_id != pending.proposal_id
        assert proposed(w2, wid) == [pending.proposal_id, fresh.proposal_id]
        assert w2.store.get_proposal(pending.proposal_id).status == ProposalStatus.WITHDRAWN
    finally:
        await w2.close()
