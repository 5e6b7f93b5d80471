"""The paper time driver runs as a service of the kernel's task supervisor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from tastydesk.engine.bootstrap import open_paper_engine

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # a Monday, 10:00 New York: the market is open


async def test_the_driver_is_supervised_and_drain_does_not_wait_for_it(tmp_path: Path) -> None:
    kernel, driver = await open_paper_engine(tmp_path, seed=3, start=START, speed=600.0)
    await kernel.start(start_driver=False)
    await kernel.tasks.drain()
    before = kernel.tasks.active
    driver.tick_s = 0.01
    driver.start(kernel.tasks)
    assert kernel.tasks.active == before + 1  # held by the supervisor, not a loose loop task
    await asyncio.wait_for(kernel.tasks.drain(), timeout=5)  # a service never finishes by itself
    paper_then = kernel.clock.now()
    await asyncio.sleep(0.1)
    assert kernel.clock.now() > paper_then  # paper time moves at 600x wall time
    await kernel.stop()  # stops the driver, then cancels what the supervisor still holds
    assert kernel.tasks.active == 0
