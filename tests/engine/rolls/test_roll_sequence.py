"""An iron condor rolls as legal orders (at most four legs each): its put spread, then its call
spread; a restart between the two carries the roll on."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.engine.bootstrap import open_paper_engine
from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.enums import OptionType, OrderStatus, Side, WorkflowState
from tastydesk.engine.domain.orders import CommandResult
from tastydesk.engine.domain.results import SENT
from tastydesk.engine.positions.monitored import MonitoredLeg
from tastydesk.engine.positions.rolls import close_pieces, is_clean, plan_roll
from tests.engine.test_engine import paper, until_position

OLD, NEW = date(2026, 2, 20), date(2026, 3, 20)


def held(expiry: date, units: int = 1) -> list[MonitoredLeg]:
    out = []
    for kind, strike, ratio in ((OptionType.PUT, "90", 1), (OptionType.PUT, "95", -1),
                                (OptionType.CALL, "105", -1), (OptionType.CALL, "110", 1)):
        sym = f"SPY   {expiry:%y%m%d}{kind.value[0].upper()}{int(Decimal(strike) * 1000):08d}"
        out.append(MonitoredLeg(sym, sym, kind, Decimal(strike), expiry, ratio * units, ratio,
                                Decimal("1.00"), bid=Decimal("1.00"), ask=Decimal("1.10")))
    return out


def target(expiry: date, units: int = 1) -> Any:
    from tastydesk.engine.domain.proposal import ResolvedLeg

    legs = tuple(ResolvedLeg(leg.symbol, leg.streamer_symbol, leg.option_type,
                             Side.SELL if leg.ratio < 0 else Side.BUY, leg.strike, leg.expiry,
                             abs(leg.ratio) * units, Decimal("1.20"), Decimal("1.30"),
                             Decimal("1.25"), 0.2, 0.0, 0.0, 0.0, 0.2)
                 for leg in held(expiry, units))

    class Target:  # the planner reads only the target's legs and quantity
        quantity = units

    t = Target()
    t.legs = legs  # type: ignore[attr-defined]
    return t


def test_a_condor_rolls_as_its_put_spread_then_its_call_spread() -> None:
    pieces = plan_roll(held(OLD, 2), target(NEW, 2))
    assert [p.label for p in pieces] == ["put spread", "call spread"]
    assert all(p.leg_count == 4 for p in pieces)
    legs = pieces[0].order_legs(2)
    assert {parse_occ(leg.symbol)[2] for leg in legs} == {OptionType.PUT}
    assert sorted(leg.action.value for leg in legs) == sorted(
        ["Buy to Close", "Sell to Close", "Sell to Open", "Buy to Open"])
    assert all(leg.quantity == 2 for leg in legs)
    mid, natural = pieces[0].prices()
    assert natural <= mid  # crossing every spread never pays better than mid


def test_what_is_left_after_the_first_piece_is_the_second() -> None:
    now = held(NEW)[:2] + held(OLD)[2:]  # new puts, old calls
    pieces = plan_roll(now, target(NEW))
    assert [p.label for p in pieces] == ["call spread"]
    assert is_clean(now, target(NEW))
    assert plan_roll(held(NEW), target(NEW)) == []
    mixed = held(OLD)[:1] + held(NEW)[1:2] + held(OLD)[2:]  # a put spread half rolled
    assert not is_clean(mixed, target(NEW))


def test_a_vertical_rolls_in_one_order() -> None:
    pieces = plan_roll(held(OLD)[:2], target(NEW))
    assert len(pieces) == 2  # the target also opens calls: each side within four legs
    two = target(NEW)
    two.legs = two.legs[:2]
    single = plan_roll(held(OLD)[:2], two)
    assert [(p.label, p.leg_count) for p in single] == [("put spread", 4)]


async def test_a_restart_between_the_two_pieces_sends_the_second(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path, auto_manage=[])
    for s in engine.facade.strategies():
        if s.name != "Iron Condor - 45 DTE":
            await engine.facade.save_strategy(dataclasses.replace(s, enabled=False), "test")
    pos = await until_position(engine, driver)
    wid = pos.workflow_id
    old_expiry = min(leg.expiry for leg in pos.legs)
    original = engine.broker.place

    async def dies_on_the_second_piece(order: Any) -> CommandResult:
        kinds = {parse_occ(leg.symbol)[2] for leg in order.legs}
        if "-roll-" in order.external_id and kinds == {OptionType.CALL}:
            raise RuntimeError("process died before sending")
        return await original(order)

    engine.broker.place = dies_on_the_second_piece
    assert await engine.facade.roll_position(wid, "ivan") == SENT
    for _ in range(80):
        driver.advance(300)
        await engine.tasks.drain()
        if any(o.status is OrderStatus.PENDING_SUBMIT for o in (await engine.store.orders(wid))):
            break
    rolls = [o for o in (await engine.store.orders(wid)) if o.purpose.value == "roll"]
    assert [o.status for o in rolls] == [OrderStatus.FILLED, OrderStatus.PENDING_SUBMIT]
    await engine.stop()

    engine2, driver2 = await open_paper_engine(tmp_path, seed=3)
    await engine2.start(start_driver=False)
    await engine2.tasks.drain()
    rolls = [o for o in (await engine2.store.orders(wid)) if o.purpose.value == "roll"]
    # The intent that never reached the broker is closed, never sent; the piece is sent anew.
    assert rolls[1].status is OrderStatus.CANCELLED and len(rolls) == 3
    assert {parse_occ(leg.symbol)[2] for leg in rolls[2].legs} == {OptionType.CALL}
    reasons = [t.reason for t in engine2.facade.transitions(wid)]
    assert any(r.startswith("roll resumed after a restart: call spread") for r in reasons)
    for _ in range(80):
        driver2.advance(300)
        await engine2.tasks.drain()
        view = next((p for p in engine2.facade.positions() if p.workflow_id == wid), None)
        if view is not None and view.state is WorkflowState.MONITORING and \
                min(leg.expiry for leg in view.legs) > old_expiry:
            break
    assert view is not None and len(view.legs) == 4
    assert min(leg.expiry for leg in view.legs) > old_expiry
    assert (await engine2.store.integrity_check()) == []
    await engine2.stop()


def test_a_close_of_more_than_four_legs_goes_out_by_option_type() -> None:
    six = held(OLD)[:2] + held(NEW)[:2] + held(OLD)[2:]  # a put spread half rolled, two ways
    pieces = close_pieces(six)
    assert [(label, len(legs)) for label, legs in pieces] == [("put legs", 4), ("call legs", 2)]
    assert close_pieces(held(OLD)) == [("close", tuple(held(OLD)))]


def test_an_order_counts_units_as_the_broker_does() -> None:
    from tastydesk.engine.domain.enums import OrderAction
    from tastydesk.engine.domain.orders import OrderLeg
    from tastydesk.engine.positions.rolls import in_order_units

    two_each = (OrderLeg("A", OrderAction.SELL_TO_CLOSE, 2), OrderLeg("B", OrderAction.BUY_TO_CLOSE, 2))
    # One position unit of two contracts a leg is two order units at half the price.
    assert in_order_units(two_each, 1, Decimal("-1.20"), Decimal("-1.50")) == (
        2, Decimal("-0.60"), Decimal("-0.75"))
    assert in_order_units(two_each, 2, Decimal("-0.60"), Decimal("-0.75")) == (
        2, Decimal("-0.60"), Decimal("-0.75"))
