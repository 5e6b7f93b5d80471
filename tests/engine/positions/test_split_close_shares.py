"""A position holding shares on the paths that split an exit into legal orders (a close of more
than four legs, a roll): the share leg closes the shares actually held (multiplier 1), priced per
share, never ``ratio x units`` (which counts 100 shares as one contract); the options go first."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from tastydesk.engine.domain.chain import Quote, occ_symbol, streamer_symbol
from tastydesk.engine.domain.enums import (
    OptionType,
    OrderAction,
    Side,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import QuoteReceived
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.domain.proposal import ResolvedLeg
from tastydesk.engine.positions.monitored import MonitoredLeg, monitored_leg
from tastydesk.engine.positions.rolls import close_pieces, plan_roll
from tests.kit.world import World, world

D = Decimal
OLD, NEW = date(2026, 2, 20), date(2026, 3, 20)
CONDOR = ((OptionType.PUT, "590", 1), (OptionType.PUT, "595", -1),
          (OptionType.CALL, "615", -1), (OptionType.CALL, "620", 1))


def condor(expiry: date, units: int) -> list[MonitoredLeg]:
    return [monitored_leg(occ_symbol("SPY", expiry, kind, D(strike)), ratio * units, D("1.00"),
                          units) for kind, strike, ratio in CONDOR]


def quoted(legs: list[MonitoredLeg]) -> list[MonitoredLeg]:
    for leg in legs:
        leg.quoted(D("600.00"), D("600.10"), None) if leg.is_shares else \
            leg.quoted(D("1.00"), D("1.10"), None)
    return legs


class Target:  # the planner reads only the target's legs and quantity
    def __init__(self, expiry: date, units: int) -> None:
        self.quantity = units
        self.legs = tuple(ResolvedLeg(leg.symbol, leg.streamer_symbol, leg.option_type,
                                      Side.SELL if leg.ratio < 0 else Side.BUY, leg.strike,
                                      leg.expiry, abs(leg.ratio) * units, D("1.20"), D("1.30"),
                                      D("1.25"), 0.2, 0.0, 0.0, 0.0, 0.2)
                          for leg in condor(expiry, units))


def test_a_roll_of_a_position_holding_shares_closes_them_last_by_the_shares_held() -> None:
    held = quoted([*condor(OLD, 2), monitored_leg("SPY", 200, D("595"), 2)])
    pieces = plan_roll(held, Target(NEW, 2))  # type: ignore[arg-type]
    assert [p.label for p in pieces] == ["put spread", "call spread", "shares close"]
    shares = pieces[-1]
    legs, units, mid, natural = shares.order(2)  # type: ignore[misc]
    assert legs == (OrderLeg("SPY", OrderAction.SELL_TO_CLOSE, 200),)
    # 200 shares, priced per share (not 2 "contracts" at a hundredth of the price)
    assert (units, mid, natural) == (200, D("600.05"), D("600.00"))
    # options still size by their contracts per unit
    assert all(leg.quantity == 2 for leg in pieces[0].order_legs(2))


def test_a_vertical_with_shares_rolls_within_four_legs() -> None:
    held = quoted([*condor(OLD, 1)[:2], monitored_leg("SPY", -100, D("615"), 1)])
    target = Target(NEW, 1)
    target.legs = target.legs[:2]
    pieces = plan_roll(held, target)  # type: ignore[arg-type]
    assert [(p.label, p.leg_count) for p in pieces] == [("put spread", 4), ("shares close", 1)]
    assert pieces[-1].order_legs(1) == (OrderLeg("SPY", OrderAction.BUY_TO_CLOSE, 100),)


def test_a_close_of_more_than_four_legs_takes_the_shares_last() -> None:
    held = [*condor(OLD, 1), monitored_leg("SPY", 100, D("595"), 1)]
    assert [(label, len(legs)) for label, legs in close_pieces(held)] == [
        ("put legs", 2), ("call legs", 2), ("shares", 1)]
    assert close_pieces(held[1:]) == [("close", tuple(held[1:]))]


async def adopted(w: World) -> int:
    """Two iron condors on SPY plus 200 shares an assignment delivered, quoted."""
    k = w.kernel
    wid = await w.workflow_in("SPY", Trigger.ADOPT, strategy_name="Iron Condor - 45 DTE")
    now = w.clock.now()
    for kind, strike, ratio in CONDOR:
        symbol = occ_symbol("SPY", OLD, kind, D(strike))
        await k.store.apply_position_fill(wid, symbol, 2 * ratio, D("1.00"), now)
        w.broker.quote(symbol, streamer_symbol("SPY", OLD, kind, D(strike)), "1.00", "1.10")
    await k.store.apply_position_fill(wid, "SPY", 200, D("595"), now)
    await k.positions.load(wid)
    await k.positions.set_rules_paused(wid, True)
    # the shares stream by their ticker (the scripted chain holds options only)
    w.broker.bus.publish(QuoteReceived(Quote("SPY", D("600.00"), D("600.10"), now)))
    await w.step()
    return wid


async def test_a_close_too_wide_for_one_order_sells_the_shares_held_last(tmp_path: Path) -> None:
    w = await world(tmp_path)
    try:
        wid = await adopted(w)
        k = w.kernel
        outcome = await k.facade.close_position(wid, "trader")
        assert outcome.sent, outcome.detail
        await w.step()
        sent: list[list[tuple[str, OrderAction, int]]] = []
        for _ in range(10):  # fill each piece as it goes out
            if len(sent) == len(w.broker.placed):
                await w.step(60)
                continue
            order = w.broker.placed[len(sent)]
            sent.append(sorted((leg.symbol, leg.action, leg.quantity) for leg in order.legs))
            snap = w.broker.live(order.external_id)
            assert snap is not None
            w.broker.fill(snap.order_id, snap.quantity)
            await w.step()
        # the puts first (five legs do not fit one order), then the calls with the shares held
        assert [{_kind(symbol) for symbol, _, _ in legs} for legs in sent] == [
            {"P"}, {"C", "shares"}]
        assert all(q == 2 for _, _, q in sent[0])
        assert ("SPY", OrderAction.SELL_TO_CLOSE, 200) in sent[1]
        assert all(q == 2 for symbol, _, q in sent[1] if symbol != "SPY")
        reasons = [t.reason for t in k.facade.transitions(wid)]
        assert any("(put legs: order 1 of 3 of at most 4 legs)" in r for r in reasons)
        assert k.book.state(wid) is WorkflowState.COMPLETED
        assert [p for p in w.store.positions(wid, open_only=True) if p.quantity] == []
    finally:
        await w.close()


def _kind(symbol: str) -> str:
    return symbol[12] if len(symbol) == 21 else "shares"
