"""Composition root of the engine: picks the broker (paper or tastytrade), the clock and the store.

The only engine module that knows concrete adapters. Paper mode runs the embedded market on a
stepped clock driven by :class:`PaperDriver`: wall time x speed, with closed hours skipped so a
trader never waits through a night or a weekend.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import (
    MarketCalendar,
    SimClock,
    load_nyse_early_closes,
    load_nyse_holidays,
)
from tastydesk.engine.config import EngineConfig
from tastydesk.engine.facade import EngineFacade
from tastydesk.engine.kernel import Kernel
from tastydesk.engine.store.service import AsyncStore, Store

log = logging.getLogger(__name__)

PAPER_CLOCK_KEY = "paper_clock"
PAPER_STATE_FILE = "paper.db"
HOLIDAYS_KEY = "nyse_holidays"


async def load_calendar(store: Store, years: tuple[int, int]) -> MarketCalendar:
    """Exchange holidays and early closes, cached in the store: computing them imports pandas
    (about a second). The cache is read and written on a worker thread: this runs on the event
    loop, which must never wait on SQLite."""
    return await asyncio.to_thread(_load_calendar, store, years)


def _load_calendar(store: Store, years: tuple[int, int]) -> MarketCalendar:
    from datetime import date, time

    cached = store.get_config(HOLIDAYS_KEY, None)
    if cached and cached.get("years") == list(years) and "early" in cached:
        return MarketCalendar((date.fromisoformat(d) for d in cached["days"]),
                              {date.fromisoformat(d): time.fromisoformat(t)
                               for d, t in cached["early"].items()})
    days = load_nyse_holidays(*years)
    early = load_nyse_early_closes(*years)
    store.set_config(HOLIDAYS_KEY, {"years": list(years), "days": [d.isoformat() for d in days],
                                    "early": {d.isoformat(): t.isoformat()
                                              for d, t in early.items()}})
    return MarketCalendar(days, early)


class PaperDriver:
    """Moves paper time forward: every tick, ``speed`` x the wall time elapsed, skipping closes.

    The kernel's time-driver port (:class:`tastydesk.engine.ports.TimeDriver`). The paper clock is
    saved through the async store, so the loop never waits on the disk for it.
    """

    def __init__(self, clock: SimClock, market: Any, broker: Any, calendar: MarketCalendar,
                 store: AsyncStore, tick_s: float = 0.2) -> None:
        self.clock = clock
        self.broker = broker
        self.market = market
        self.calendar = calendar
        self.store = store
        self.tick_s = tick_s
        self._task: asyncio.Task[None] | None = None
        self._saved_at = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="paper-driver")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        # A clean shutdown keeps the very latest paper prices and account, not the last periodic save.
        self.market.save_state()
        self.broker.save_state()
        await self.store.set_config(PAPER_CLOCK_KEY, self.clock.now().isoformat())

    def advance(self, seconds: float) -> None:
        """Advance paper time by ``seconds``, stopping at the close and jumping to the next open."""
        now = self.clock.now()
        target = now + timedelta(seconds=seconds)
        if self.calendar.is_open(now):
            close = self.calendar.session_close(now.astimezone(self.calendar_tz()).date())
            if target >= close:
                self._step(close)
                target = self.calendar.next_open(close + timedelta(seconds=1))
        elif not self.calendar.is_open(target):
            target = self.calendar.next_open(target)
        self._step(target)

    def calendar_tz(self) -> Any:
        from tastydesk.engine.clock import NEW_YORK

        return NEW_YORK

    def _step(self, to: datetime) -> None:
        self.market.step(to)
        self.clock.advance(to)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.tick_s)
            now = loop.time()
            try:
                self.advance((now - last) * self.clock.speed)
            except Exception:
                log.exception("paper market step failed")
            last = now
            if now - self._saved_at > 5.0:
                self._saved_at = now
                await self.store.set_config(PAPER_CLOCK_KEY, self.clock.now().isoformat())


async def open_paper_engine(data_dir: Path, *, seed: int | None = None,
                            speed: float | None = None, start: datetime | None = None,
                            store: Store | None = None, inline_store: bool = False,
                            starting_cash: Decimal = Decimal("100000")
                            ) -> tuple[Kernel, PaperDriver]:
    from tastydesk.engine.broker.paper.broker import PaperBroker
    from tastydesk.engine.broker.paper.market import PaperMarket
    from tastydesk.engine.broker.paper.state import PaperState
    from tastydesk.paths import db_path

    def read_state() -> tuple[Store, dict[str, Any], Any, list[Any]]:
        opened = store or Store.open(db_path(data_dir))
        return (opened, opened.get_config("engine", None) or {},
                opened.get_config(PAPER_CLOCK_KEY, None), opened.list_strategies())

    # Opening the database and reading its settings happens on a worker thread: this coroutine
    # runs on the event loop (the GUI thread in the desktop app).
    store, stored_config, saved, strategies = await asyncio.to_thread(read_state)
    config = EngineConfig.from_dict(stored_config)
    seed = config.paper_seed if seed is None else seed
    if speed is not None:
        config = EngineConfig.from_dict({**config.to_dict(), "paper_speed": speed})
    real_now = datetime.now(UTC)
    calendar = await load_calendar(store, (real_now.year - 1, real_now.year + 2))
    if start is None:
        start = datetime.fromisoformat(saved) if saved else calendar.next_open(real_now)
    clock = SimClock(start)
    clock.set_speed(config.paper_speed)
    bus = EventBus()
    # The paper account and market live in their own journal next to the database, so they
    # survive a restart (or a kill) and the engine can reconcile against them.
    paper_state = PaperState(data_dir / PAPER_STATE_FILE)
    market = PaperMarket(bus, clock, calendar, seed=seed, symbols=config.watchlist,
                         state=paper_state)
    resume = max(start, market.now) if market.now is not None else start
    market.step(resume)
    clock.advance(resume)
    # strict_rules (four legs, ticks, halts) stays off until the engine rounds prices to the
    # instrument's tick and rolls positions of more than four legs as several orders.
    broker = PaperBroker(market, bus, clock, seed=seed, state=paper_state,
                         starting_cash=starting_cash, strict_rules=False)
    async_store = AsyncStore(store, inline=inline_store)
    driver = PaperDriver(clock, market, broker, calendar, async_store)
    kernel = Kernel(broker=broker, store=async_store, bus=bus,
                    clock=clock, calendar=calendar, config=config,
                    strategies=strategies, driver=driver)
    return kernel, driver


async def open_engine(data_dir: Path, *, paper: bool | None = None, seed: int | None = None,
                      speed: float | None = None,
                      client_kwargs: dict[str, Any] | None = None) -> EngineFacade:
    """The engine for the desktop, as the facade the UI holds (see :func:`open_kernel`)."""
    kernel = await open_kernel(data_dir, paper=paper, seed=seed, speed=speed,
                               client_kwargs=client_kwargs)
    return kernel.facade


async def open_kernel(data_dir: Path, *, paper: bool | None = None, seed: int | None = None,
                      speed: float | None = None,
                      client_kwargs: dict[str, Any] | None = None) -> Kernel:
    """Build the engine: paper unless a tastytrade login is stored.

    In paper mode ``start()`` also starts the real-time paper driver. ``client_kwargs`` reach
    the tastytrade SDK's HTTP client (tests pass an in-process transport).
    """
    if paper is None:
        paper = not _has_credentials()
    if not paper:
        kernel = await _open_live_engine(data_dir, client_kwargs)
        if kernel is not None:
            return kernel
        log.warning("stored tastytrade login unusable; starting in paper mode")
    kernel, _driver = await open_paper_engine(data_dir, seed=seed, speed=speed)
    return kernel


def _has_credentials() -> bool:
    try:
        from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore
    except ImportError:
        return False
    try:
        creds = KeyringCredentialStore()
        return any(creds.load(env) is not None for env in ("live", "sandbox"))
    except Exception:
        return False


async def _open_live_engine(data_dir: Path,
                            client_kwargs: dict[str, Any] | None = None) -> Kernel | None:
    from tastydesk.engine.broker.tastytrade.adapter import TastytradeBroker
    from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore
    from tastydesk.engine.clock import RealClock
    from tastydesk.paths import db_path

    creds_store = KeyringCredentialStore()
    for env in ("live", "sandbox"):
        creds = creds_store.load(env)
        if creds is None:
            continue
        def read_state(env: str = env) -> tuple[Store, dict[str, Any], Any, list[Any]]:
            opened = Store.open(db_path(data_dir))
            return (opened, opened.get_config("engine", None) or {},
                    opened.get_config(f"account:{env}", None), opened.list_strategies())

        store, stored_config, account, strategies = await asyncio.to_thread(read_state)
        config = EngineConfig.from_dict(stored_config)
        now = datetime.now(UTC)
        calendar = await load_calendar(store, (now.year - 1, now.year + 2))
        bus = EventBus()
        clock = RealClock()
        broker = TastytradeBroker(bus, clock, provider_secret=creds.provider_secret,
                                  refresh_token=creds.refresh_token, sandbox=env == "sandbox",
                                  account_number=account, client_kwargs=client_kwargs)
        return Kernel(broker=broker, store=AsyncStore(store), bus=bus, clock=clock,
                      calendar=calendar, config=config, strategies=strategies)
    return None
