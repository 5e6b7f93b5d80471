"""A kernel on the scripted broker, over a real SQLite store, on a stepped clock.

``World.step(seconds)`` moves the clock (timers fire) and lets every task it started finish, so a
test reads like a timeline.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import MarketCalendar, SimClock
from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.enums import Actor, Trigger
from tastydesk.engine.kernel import Kernel
from tastydesk.engine.store.guard import LOOP_GUARD
from tastydesk.engine.store.service import AsyncStore, Store
from tests.kit.broker import ScriptedBroker

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # a Monday, 10:00 New York: the market is open


class InspectedStore:
    """The test's view of the kernel's database: each read runs with the loop guard's permit.

    Tests inspect the file from their coroutine between steps; the kernel itself only ever
    reaches the store through its async store, which the guard checks.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with LOOP_GUARD.permitted():
                return attr(*args, **kwargs)

        return call


@dataclass
class World:
    kernel: Kernel
    broker: ScriptedBroker
    clock: SimClock
    store: InspectedStore

    async def step(self, seconds: float = 0.0) -> None:
        """Advance paper time by ``seconds`` and let every started task finish."""
        await asyncio.sleep(0)
        self.clock.advance(self.clock.now() + timedelta(seconds=seconds))
        for _ in range(3):
            await asyncio.sleep(0)
            await self.kernel.tasks.drain()

    async def workflow_in(self, symbol: str, *triggers: Trigger, **updates: Any) -> int:
        """A workflow moved by ``triggers`` from SCANNING (the last one carries ``updates``)."""
        rec = await self.kernel.book.create(symbol, Actor.ENGINE, "test")
        for i, trigger in enumerate(triggers):
            extra = updates if i == len(triggers) - 1 else {}
            await self.kernel.book.transition(rec.id, trigger, Actor.ENGINE, trigger.value,
                                              **extra)
        return rec.id

    async def close(self) -> None:
        await self.kernel.stop()


async def world(tmp_path: Path, **config: Any) -> World:
    """A started kernel (reconciled, nothing traded) on the scripted broker."""
    store = Store.open(tmp_path / "tastydesk.db")
    bus = EventBus()
    clock = SimClock(START)
    broker = ScriptedBroker(bus, clock)
    settings = EngineConfig.from_dict({**EngineConfig().to_dict(), **config})
    with LOOP_GUARD.permitted():  # arranging the test's database before the kernel exists
        store.set_config("engine", settings.to_dict())
        strategies = store.list_strategies()
    kernel = Kernel(broker=broker, store=AsyncStore(store, inline=True), bus=bus, clock=clock,
                    calendar=MarketCalendar(), config=settings, strategies=strategies)
    await kernel.start(start_driver=False)
    return World(kernel, broker, clock, InspectedStore(store))
