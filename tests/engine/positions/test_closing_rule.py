"""The journal's closing rule: the rule that started the exit ending the cycle, read from the
workflow's latest CLOSE transitions (later orders of a close split into legal orders carry the
continuation marker and are passed over), also when that CLOSE lies further back than the recent
transitions searched first."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tastydesk.engine.bootstrap import open_paper_engine
from tastydesk.engine.domain.enums import Actor, Trigger
from tastydesk.engine.positions.settlement import CONTINUATION, RECENT_TRANSITIONS
from tastydesk.engine.simulation import SIM_START


async def monitored_workflow(tmp_path: Path) -> tuple[Any, int]:
    kernel, _driver = await open_paper_engine(tmp_path, seed=3,
                                              start=SIM_START + timedelta(hours=1))
    await kernel.start(start_driver=False)
    rec = await kernel.book.create("SPY", Actor.USER, "test", announce=False)
    await kernel.book.transition(rec.id, Trigger.ADOPT, Actor.USER, "adopted")
    return kernel, rec.id


async def split_close(kernel: Any, wid: int, rule: str, later_orders: int) -> None:
    """An exit started by ``rule`` whose close went out as ``later_orders`` more orders."""
    await kernel.book.transition(wid, Trigger.CLOSE, Actor.ENGINE, f"rule {rule}",
                                 payload={"rule": rule})
    for n in range(later_orders):
        await kernel.book.transition(wid, Trigger.PARTIAL, Actor.ENGINE, f"order {n + 1} filled")
        await kernel.book.transition(wid, Trigger.CLOSE, Actor.ENGINE, f"order {n + 2}",
                                     payload={"rule": CONTINUATION})


async def test_the_rule_behind_more_transitions_than_are_searched_first(tmp_path: Path) -> None:
    kernel, wid = await monitored_workflow(tmp_path)
    await split_close(kernel, wid, "profit_target", 1)  # an earlier exit, partly filled
    await kernel.book.transition(wid, Trigger.PARTIAL, Actor.ENGINE, "partial close filled")
    await split_close(kernel, wid, "stop_loss", RECENT_TRANSITIONS)
    recent = await kernel.store.transitions(wid, limit=RECENT_TRANSITIONS)
    assert all(t.payload.get("rule") != "stop_loss" for t in recent)  # behind the first window
    assert await kernel.settlement.closing_rule(wid) == "stop_loss"
    await kernel.stop()


async def test_the_rule_within_the_recent_transitions(tmp_path: Path) -> None:
    kernel, wid = await monitored_workflow(tmp_path)
    await split_close(kernel, wid, "stop_loss", RECENT_TRANSITIONS)
    await kernel.book.transition(wid, Trigger.PARTIAL, Actor.ENGINE, "partial close filled")
    await split_close(kernel, wid, "time_exit", 2)
    assert await kernel.settlement.closing_rule(wid) == "time_exit"
    await kernel.stop()


async def test_an_exit_with_no_rule_is_the_traders_or_the_engines(tmp_path: Path) -> None:
    kernel, wid = await monitored_workflow(tmp_path)
    assert await kernel.settlement.closing_rule(wid) == "manual"  # no CLOSE at all
    await kernel.book.transition(wid, Trigger.CLOSE, Actor.USER, "closed by the trader")
    assert await kernel.settlement.closing_rule(wid) == "manual"
    await kernel.book.transition(wid, Trigger.PARTIAL, Actor.ENGINE, "partial close filled")
    await kernel.book.transition(wid, Trigger.CLOSE, Actor.ENGINE, "failsafe exit")
    assert await kernel.settlement.closing_rule(wid) == "engine"
    await kernel.stop()
