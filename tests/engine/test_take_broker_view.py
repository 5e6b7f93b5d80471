"""Taking the broker's view when the broker holds a different quantity of a leg (fewer, more,
or a leg the app does not hold on a workflow's underlying), on the scripted broker: the app's
position is set to the broker's per leg, booked as a ``reconciled`` transaction at the leg's
last mark (an estimate) and audited, nothing is sent, and a workflow left with nothing ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tastydesk.engine.domain.account import BrokerPosition
from tastydesk.engine.domain.enums import Trigger, WorkflowState
from tastydesk.engine.domain.lifecycle import LifecycleKind
from tastydesk.engine.reconcile_gate import DifferenceAction
from tests.engine.positions.test_position_book import LONG, SHORT, STRATEGY, held, quote
from tests.kit.world import World, world

EXTRA = "SPY   260220C00620000"


@pytest.fixture(name="w")
async def fixture_world(tmp_path: Path) -> AsyncIterator[World]:
    w = await world(tmp_path)
    yield w
    await w.close()


def at_broker(w: World, **legs: int) -> None:
    """What the broker holds now (symbol by name: short, long, extra)."""
    symbols = {"short": SHORT, "long": LONG, "extra": EXTRA}
    w.broker.held = {symbols[k]: BrokerPosition(symbols[k], "SPY", q, Decimal("1.00"),
                                                mark=Decimal("0.80"))
                     for k, q in legs.items()}


async def reconcile(w: World) -> dict[str, object]:
    await w.kernel.reconciler.reconcile()
    return {d.symbol: d for d in w.kernel.facade.reconcile_differences()}


def open_legs(w: World, wid: int) -> dict[str, int]:
    return {p.symbol: p.quantity for p in w.store.positions(wid, open_only=True)}


def reconciled(w: World, wid: int) -> list[object]:
    return [b.event for b in w.store.lifecycle_bookings(wid)
            if b.event.kind is LifecycleKind.RECONCILED]


async def test_the_broker_holding_fewer_sets_the_leg_and_books_the_gone_part_at_the_mark(
        w: World) -> None:
    wid = await held(w, units=2)  # short 2 at 1.45, long 2 at 1.10; marks 1.45 / 1.10
    at_broker(w, short=-1, long=2)
    differences = await reconcile(w)
    assert set(differences) == {SHORT} and not w.kernel.facade.health().reconciled
    await w.kernel.facade.decide_difference(SHORT, DifferenceAction.TAKE_BROKER, "trader")
    assert open_legs(w, wid) == {SHORT: -1, LONG: 2}
    [event] = reconciled(w, wid)
    # One short contract bought back at the last mark, 1.45: 145 paid, an estimate.
    assert (event.quantity, event.price, event.value) == (1, Decimal("1.45"), Decimal("-145"))
    assert "last mark" in event.description and "estimate" in event.description
    assert any("taken the broker's view" in a.detail for a in w.store.audit_log())
    assert w.kernel.book.state(wid) is WorkflowState.MONITORING
    mon = w.kernel.positions.get(wid)
    assert {g.symbol: g.quantity for g in mon.legs} == {SHORT: -1, LONG: 2}
    assert w.kernel.facade.health().reconciled and w.broker.placed == []


async def test_the_broker_holding_more_adds_at_the_mark(w: World) -> None:
    wid = await held(w, units=1)
    at_broker(w, short=-3, long=1)
    await reconcile(w)
    await w.kernel.facade.decide_difference(SHORT, DifferenceAction.TAKE_BROKER, "trader")
    assert open_legs(w, wid) == {SHORT: -3, LONG: 1}
    [event] = reconciled(w, wid)
    assert (event.quantity, event.value) == (-2, Decimal("290"))  # two more sold at 1.45
    assert w.broker.placed == []


async def test_a_leg_the_app_does_not_hold_on_the_workflows_underlying_is_added(
        w: World) -> None:
    wid = await held(w, units=1)
    at_broker(w, short=-1, long=1, extra=1)
    differences = await reconcile(w)
    assert set(differences) == {EXTRA}
    assert differences[EXTRA].app_quantity == 0 and differences[EXTRA].workflow_ids == (wid,)
    await w.kernel.facade.decide_difference(EXTRA, DifferenceAction.TAKE_BROKER, "trader")
    assert open_legs(w, wid) == {SHORT: -1, LONG: 1, EXTRA: 1}
    [event] = reconciled(w, wid)  # no quote of the app: the broker's mark
    assert (event.quantity, event.price, event.value) == (1, Decimal("0.80"), Decimal("-80"))
    assert "broker's mark" in event.description
    assert w.kernel.facade.health().reconciled


async def test_a_workflow_left_with_nothing_ends_with_the_estimate_in_its_journal(
        w: World) -> None:
    wid = await held(w, units=1)
    quote(w, SHORT, "0.60", "0.70", publish=True)  # the last marks before the app closed
    quote(w, LONG, "0.30", "0.40", publish=True)
    await w.step()
    at_broker(w)  # the broker holds neither leg
    differences = await reconcile(w)
    assert set(differences) == {SHORT, LONG}
    for symbol in differences:
        await w.kernel.facade.decide_difference(symbol, DifferenceAction.TAKE_BROKER, "trader")
    assert open_legs(w, wid) == {}
    assert w.kernel.book.state(wid) is not WorkflowState.MONITORING
    [entry] = [j for j in w.store.journal() if j.workflow_id == wid]
    # The kit's position came without fills, so the cycle's cash is the two estimates: the
    # short bought back at its mark 0.65 (-65), the long sold at 0.35 (+35).
    assert entry.realised_pnl == Decimal("-30")
    assert entry.closing_rule == "reconciled"
    assert any("taken the broker's view" in t.reason for t in w.store.transitions(wid))
    assert w.broker.placed == []


async def test_two_workflows_on_the_underlying_cannot_take_an_unknown_leg(w: World) -> None:
    first = await held(w, units=1)
    second = await w.workflow_in("SPY", Trigger.SCAN, Trigger.PROPOSE, Trigger.APPROVE,
                                 Trigger.FILL, strategy_name=STRATEGY)
    await w.kernel.store.apply_position_fill(second, LONG, 1, Decimal("1.10"), w.clock.now())
    at_broker(w, short=-1, long=2, extra=1)
    differences = await reconcile(w)
    assert differences[EXTRA].workflow_ids == (first, second)
    with pytest.raises(ValueError, match="which one takes the leg is not known"):
        await w.kernel.facade.decide_difference(EXTRA, DifferenceAction.TAKE_BROKER, "trader")
    assert open_legs(w, first) == {SHORT: -1, LONG: 1}
