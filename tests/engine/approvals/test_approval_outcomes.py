"""An approval on the scripted broker when the market or the broker misbehaves: quotes that fail
the pricing-anomaly failsafe hold it (nothing priced, nothing sent, the reason given); a place
whose outcome is unknown is looked up, never re-sent; a partial fill books what filled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tastydesk.engine.domain.enums import ActionOutcome, OrderStatus, WorkflowState
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.execution_pricing.walk import PATIENT
from tastydesk.engine.workflow.common import UNKNOWN_LOOKUP_DELAYS
from tests.engine.approvals.test_approval_desk import LONG, SHORT, pending
from tests.kit.broker import Script
from tests.kit.world import World, world


@pytest.fixture(name="w")
async def fixture_world(tmp_path: Path) -> AsyncIterator[World]:
    w = await world(tmp_path)
    yield w
    await w.close()


def requote(w: World, short: tuple[str, str], long: tuple[str, str]) -> None:
    (view,) = w.kernel.facade.pending()
    w.broker.quote(SHORT, view.proposal.legs[0].streamer_symbol, *short)
    w.broker.quote(LONG, view.proposal.legs[1].streamer_symbol, *long)


@pytest.mark.parametrize(("short", "long", "reason"), [
    (("0.00", "1.47"), ("1.08", "1.12"), "zero_bid"),  # the put we sell has no bid
    (("1.00", "1.04"), ("1.08", "1.12"), "inverted"),  # the 570 put offered below the 565 bid
])
async def test_anomalous_quotes_hold_the_approval_with_the_reason(
        w: World, short: tuple[str, str], long: tuple[str, str], reason: str) -> None:
    alerts: list[Alert] = []
    w.kernel.bus.subscribe(Alert, alerts.append)
    wid = await pending(w)
    requote(w, short, long)
    await w.step()
    result = await w.kernel.facade.approve(wid, "ida")
    await w.step()
    assert result.outcome is ActionOutcome.NOT_SENT and f"({reason})" in result.detail
    assert result.detail.startswith("quotes ignored: ")
    assert w.broker.placed == []
    assert w.kernel.book.state(wid) is WorkflowState.PENDING_APPROVAL  # still waiting
    assert w.store.decisions() == []
    assert any(a.title == "Held: SPY" and f"({reason})" in a.message for a in alerts)
    requote(w, ("1.43", "1.47"), ("1.08", "1.12"))  # sane again
    await w.step()
    assert (await w.kernel.facade.approve(wid, "ida")).sent
    (order,) = w.broker.placed
    assert order.price == Decimal("0.35")


async def test_a_place_whose_reply_was_lost_is_looked_up_not_resent(w: World) -> None:
    wid = await pending(w)
    w.broker.script("place", Script.LOST_REPLY)
    assert (await w.kernel.facade.approve(wid, "jo")).sent
    await w.step()
    (order,) = w.kernel.orders.records()
    assert order.status is OrderStatus.UNKNOWN
    await w.step(UNKNOWN_LOOKUP_DELAYS[0] + 1)
    assert w.store.get_order(order.external_id).status is OrderStatus.WORKING  # type: ignore[union-attr]
    assert len(w.broker.placed) == 1
    assert w.kernel.book.state(wid) is WorkflowState.EXECUTING
    assert (await w.kernel.facade.approve(wid, "jo")).outcome is ActionOutcome.NOT_PENDING


async def test_a_place_lost_on_the_way_ends_the_entry_after_the_lookups(w: World) -> None:
    wid = await pending(w)
    w.broker.script("place", Script.LOST_ORDER)
    assert (await w.kernel.facade.approve(wid, "jo")).sent
    await w.step()
    (order,) = w.kernel.orders.records()
    for delay in UNKNOWN_LOOKUP_DELAYS:
        assert w.store.get_order(order.external_id).status is OrderStatus.UNKNOWN  # type: ignore[union-attr]
        await w.step(delay + 1)
    assert w.store.get_order(order.external_id).status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert len(w.broker.placed) == 1  # never re-sent
    assert w.kernel.book.state(wid) is not WorkflowState.EXECUTING


async def test_a_partly_filled_approval_books_the_filled_lots(w: World) -> None:
    alerts: list[Alert] = []
    w.kernel.bus.subscribe(Alert, alerts.append)
    wid = await pending(w)  # two lots
    assert (await w.kernel.facade.approve(wid, "kim")).sent
    await w.step()
    (broker_id,) = w.broker.orders
    w.broker.fill(broker_id, 1)
    await w.step()
    (order,) = w.kernel.orders.records()
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.filled_quantity == 1
    assert w.kernel.book.state(wid) is WorkflowState.EXECUTING
    assert any(a.title == "Partial fill: SPY" and "1/2 filled" in a.message for a in alerts)
    for _ in range(10):  # the rest walks, then is cancelled unfilled
        if w.broker.cancelled:
            break
        await w.step(PATIENT.interval_seconds + 1)
    assert w.broker.cancelled
    assert w.store.get_order(order.external_id).filled_quantity == 1  # type: ignore[union-attr]
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING
    position = w.kernel.positions.get(wid)
    assert position is not None and position.units == 1
    assert len(w.broker.placed) == 1
