"""The Roll ticket's engine side: a preview of the strategy's new legs, the net price and the
risk after the roll; the trader's edits (expiry, strikes, quantity, limit) pinned and sent
through the normal roll path; the opening side held to the pre-trade checks."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from tastydesk.engine.domain.enums import ActionOutcome, OrderAction, OrderPurpose, Side
from tastydesk.engine.domain.results import SENT
from tastydesk.engine.domain.rolls import RollEdits
from tastydesk.engine.errors import EngineError
from tests.engine.test_engine import count_placed, paper, until_position


async def vertical(tmp_path: Path, **config: Any) -> tuple[Any, Any, Any]:
    """A paper engine holding one credit spread (a two-leg roll fits one order)."""
    engine, driver = await paper(tmp_path, auto_manage=[], **config)
    for s in engine.facade.strategies():
        if "Credit Spread" not in s.name:
            await engine.facade.save_strategy(dataclasses.replace(s, enabled=False), "test")
    return engine, driver, await until_position(engine, driver)


async def test_the_preview_shows_the_new_legs_the_net_price_and_the_risk(tmp_path: Path) -> None:
    engine, _driver, pos = await vertical(tmp_path)
    wid = pos.workflow_id
    placed = count_placed(engine)
    transitions = len(engine.facade.transitions(wid))
    preview = await engine.facade.preview_roll(wid)
    assert preview.symbol == pos.symbol and preview.quantity == pos.quantity
    assert {leg.symbol for leg in preview.closing} == {leg.symbol for leg in pos.legs}
    assert len(preview.opening) == 2
    assert preview.orders in (("put spread",), ("call spread",))
    assert preview.expiry > min(leg.expiry for leg in pos.legs)
    assert preview.expiry in preview.expirations
    assert all(leg.strike in preview.strikes for leg in preview.opening)
    assert preview.natural <= preview.mid  # crossing every spread never beats the mid
    assert preview.limit == preview.mid
    assert preview.max_loss > 0 and preview.buying_power > 0
    held_bp = engine.positions.get(wid).buying_power_per_unit * pos.quantity
    assert preview.buying_power_effect == preview.buying_power - held_bp
    chain = engine.positions.get(wid).chain
    assert preview.credit_collected == chain.credits - chain.debits > 0
    assert preview.credit_after == preview.credit_collected + preview.mid * 100 * \
        preview.order_units
    assert preview.problem is None
    # A query: nothing sent, nothing recorded.
    assert placed == [] and len(engine.facade.transitions(wid)) == transitions
    await engine.stop()


async def test_edits_pin_the_expiry_strikes_and_quantity_and_send_as_previewed(
        tmp_path: Path) -> None:
    engine, driver, pos = await vertical(tmp_path)
    wid = pos.workflow_id
    first = await engine.facade.preview_roll(wid)
    later = next(d for d in first.expirations if d > first.expiry)
    short, long_ = first.opening
    step = D("1") if short.option_type.value == "put" else D("-1")
    strikes = (short.strike - step, long_.strike - step)  # one strike further out
    edits = RollEdits(expiry=later, strikes=strikes, quantity=2)
    edited = await engine.facade.preview_roll(wid, edits)
    assert edited.expiry == later and edited.quantity == 2
    assert tuple(leg.strike for leg in edited.opening) == strikes
    assert [leg.quantity for leg in edited.opening] == [2, 2]
    assert edited.mid != first.mid or edited.expiry != first.expiry
    limit = edited.mid
    placed = count_placed(engine)
    assert await engine.facade.roll_position(wid, "ivan", dataclasses.replace(
        edits, limit=limit)) == SENT
    await engine.tasks.drain()
    assert len(placed) == 1
    order = next(o for o in await engine.store.orders(wid) if o.purpose is OrderPurpose.ROLL)
    opened = {leg.symbol: leg for leg in order.legs
              if leg.action in (OrderAction.SELL_TO_OPEN, OrderAction.BUY_TO_OPEN)}
    assert set(opened) == {leg.symbol for leg in edited.opening}
    assert all(leg.quantity == 2 for leg in opened.values())
    assert sum(1 for leg in order.legs if leg.action in (OrderAction.BUY_TO_CLOSE,
                                                         OrderAction.SELL_TO_CLOSE)) == 2
    audit = [a.detail for a in engine.facade.audit_log() if a.action == "roll"]
    assert any("quantity 2" in d and later.isoformat() in d for d in audit)
    for _ in range(60):  # the roll fills: the position holds the new legs, two of each
        driver.advance(300)
        await engine.tasks.drain()
        view = next((p for p in engine.facade.positions() if p.workflow_id == wid), None)
        if view is not None and {leg.symbol for leg in view.legs} == set(opened):
            break
    assert view is not None and {leg.symbol for leg in view.legs} == set(opened)
    assert view.quantity == 2
    await engine.stop()


async def test_edits_the_chain_cannot_honour_are_refused_naming_the_field(tmp_path: Path) -> None:
    engine, _driver, pos = await vertical(tmp_path)
    wid = pos.workflow_id
    first = await engine.facade.preview_roll(wid)
    with pytest.raises(EngineError, match=r"^legs\[0\]\.strike: 0\.37 is not listed on "):
        await engine.facade.preview_roll(wid, RollEdits(strikes=(D("0.37"), D("1"))))
    with pytest.raises(EngineError, match=r"^strikes: the strategy has 2 legs"):
        await engine.facade.preview_roll(wid, RollEdits(strikes=(D("100"),)))
    with pytest.raises(EngineError, match=r"^quantity: must be 1\.\.1000"):
        await engine.facade.preview_roll(wid, RollEdits(quantity=0))
    with pytest.raises(EngineError, match=r"^limit: must not be zero"):
        await engine.facade.preview_roll(wid, RollEdits(limit=D("0")))
    with pytest.raises(EngineError, match=r"^expiry: "):
        await engine.facade.preview_roll(wid, RollEdits(expiry=first.expiry.replace(day=1)
                                                        if first.expiry.day != 1 else
                                                        first.expiry.replace(day=2)))
    await engine.stop()


async def test_the_rolls_opening_side_meets_the_per_trade_cap(tmp_path: Path) -> None:
    engine, _driver, pos = await vertical(tmp_path)
    wid = pos.workflow_id
    strategy = next(s for s in engine.facade.strategies() if s.name == pos.strategy_name)
    cap = D("100")
    await engine.facade.save_strategy(dataclasses.replace(
        strategy, sizing=dataclasses.replace(strategy.sizing, max_buying_power=cap)), "test")
    preview = await engine.facade.preview_roll(wid)
    assert preview.problem == f"buying power {preview.buying_power} above the per-trade " \
                              f"maximum {cap}"
    placed = count_placed(engine)
    result = await engine.facade.roll_position(wid, "ivan")
    await engine.tasks.drain()
    assert result.outcome is ActionOutcome.NOT_SENT
    assert result.detail == f"roll refused by the pre-trade checks: {preview.problem}"
    assert placed == []
    assert not any(o.purpose is OrderPurpose.ROLL for o in await engine.store.orders(wid))
    assert not engine.positions.get(wid).acting  # the trader can act on it again
    await engine.stop()


async def test_the_rolls_opening_side_counts_pending_and_working_orders(tmp_path: Path) -> None:
    engine, _driver, pos = await vertical(tmp_path)
    wid = pos.workflow_id
    preview = await engine.facade.preview_roll(wid)
    released = engine.positions.get(wid).buying_power_per_unit * pos.quantity
    # Other workflows' commitments fill the allocation up to just below what the roll needs.
    room = engine.risk.bp_limit() - (engine.risk.used_or_committed(wid) - released)
    from tastydesk.engine.domain.enums import CommitmentKind
    from tastydesk.engine.risk.checks import Commitment

    engine.risk.add_commitments(lambda: [Commitment(999, "QQQ", room - preview.buying_power
                                                    + D("1"), CommitmentKind.WORKING_ORDER)])
    refused = await engine.facade.preview_roll(wid)
    assert refused.problem is not None and refused.problem.startswith("allocation: ")
    result = await engine.facade.roll_position(wid, "ivan")
    assert result.outcome is ActionOutcome.NOT_SENT and "allocation: " in result.detail
    assert Side.SELL in {leg.side for leg in preview.opening}
    await engine.stop()


async def test_a_roll_rule_refused_by_the_checks_alerts_once_and_leaves_it_to_the_trader(
        tmp_path: Path) -> None:
    from tastydesk.engine.domain.events import Alert
    from tastydesk.engine.strategies.roll_example import with_roll_rule

    engine, driver = await paper(tmp_path, auto_manage=[])
    for s in engine.facade.strategies():
        if "Credit Spread" not in s.name:
            await engine.facade.save_strategy(dataclasses.replace(s, enabled=False), "test")
        else:  # a roll rule that acts unattended, quiet until its threshold is raised
            await engine.facade.save_strategy(with_roll_rule(s, D("1")), "test")
    pos = await until_position(engine, driver)
    wid = pos.workflow_id
    strategy = next(s for s in engine.facade.strategies() if s.name == pos.strategy_name)
    await engine.facade.save_strategy(dataclasses.replace(
        strategy, sizing=dataclasses.replace(strategy.sizing, max_buying_power=D("100"))), "t")
    alerts: list[Alert] = []
    engine.bus.subscribe(Alert, alerts.append)
    placed = count_placed(engine)
    index = next(i for i, r in enumerate(strategy.rules) if r.rule_type.value == "roll")
    await engine.facade.set_rule_threshold(wid, index, D("90"), "test")  # due now
    for _ in range(6):
        driver.advance(60)
        await engine.tasks.drain()
    refused = [a for a in alerts if a.title == f"Roll not sent: {pos.symbol}"]
    assert len(refused) == 1 and "above the per-trade maximum 100" in refused[0].message
    assert not any("-roll-" in ext for ext in placed)
    mon = engine.positions.get(wid)
    assert index in mon.spent and not mon.acting  # the trader decides; other rules still act
    await engine.stop()
