"""The scanner on the real paper market and broker: strategies another workflow already holds
are left out before anything is built, and an unchanged answer is not recorded again."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

from tastydesk.engine.bootstrap import open_paper_engine
from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.enums import Trigger
from tastydesk.engine.scanning.candidates import Plan
from tastydesk.engine.simulation import SIM_START


async def paper(tmp_path: Path, **config: Any) -> tuple[Any, Any]:
    kernel, driver = await open_paper_engine(tmp_path, seed=3, start=SIM_START + timedelta(hours=1))
    await kernel.start(start_driver=False)
    facade = kernel.facade
    await facade.update_config(EngineConfig.from_dict({**facade.config().to_dict(),
                                                       "min_confidence": 0.0, **config}), "test")
    return kernel, driver


async def scan(kernel: Any, driver: Any, minutes: float = 31) -> None:
    await kernel.facade.scan_now()
    await kernel.tasks.drain()
    driver.advance(minutes * 60)
    await kernel.tasks.drain()


async def test_a_strategy_held_by_another_workflow_is_left_out_before_building(
        tmp_path: Path) -> None:
    # A neutral bias whatever the trend, so every neutral strategy is a candidate.
    kernel, _driver = await paper(tmp_path, trend_weight=0.0, portfolio_weight=0.0)
    try:
        plans = [await kernel.candidates.plan(s) for s in kernel.settings.config.watchlist]
        free = next(p for p in plans if isinstance(p, Plan) and len(p.strategies) >= 2)
        names = [s.name for s in free.strategies]
        held = names[0]
        planned = await kernel.candidates.plan(free.symbol,
                                               exclude={held: f"{held} is already open"})
        assert isinstance(planned, Plan)
        assert [s.name for s in planned.strategies] == names[1:]
        assert sorted(planned.reasons) == sorted((*free.reasons, f"{held} is already open"))
        every = {name: f"{name} taken" for name in names}
        reason = await kernel.candidates.plan(free.symbol, exclude=every)
        assert isinstance(reason, str) and all(r in reason for r in every.values())
    finally:
        await kernel.stop()


async def test_an_unchanged_answer_is_not_recorded_again_and_a_change_is(tmp_path: Path) -> None:
    kernel, driver = await paper(tmp_path, watchlist=["SPY"], max_workflows_per_symbol=1,
                                 trend_weight=0.0, portfolio_weight=0.0)
    try:
        neutral = [s for s in kernel.strategies.all() if s.enabled and "Condor" not in s.name]
        for strategy in kernel.strategies.all():
            await kernel.strategies.save(dataclasses.replace(strategy, enabled=False), "test")
        for _ in range(3):
            await scan(kernel, driver)
        (wf,) = kernel.book.active("SPY")
        reasons = [t.reason for t in await kernel.store.transitions(wf.id)
                   if t.trigger is Trigger.NO_CANDIDATE]
        assert reasons == ["no enabled strategy serves a neutral bias"]
        # Something changed (a strategy is back): the next scan evaluates and records again.
        await kernel.strategies.save(dataclasses.replace(neutral[0], enabled=True), "test")
        await scan(kernel, driver)
        triggers = [t.trigger for t in await kernel.store.transitions(wf.id)]
        assert triggers.count(Trigger.SCAN) == 2
        assert triggers[-1] in (Trigger.PROPOSE, Trigger.NO_CANDIDATE)
    finally:
        await kernel.stop()
