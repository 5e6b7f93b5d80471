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
from typing import TYPE_CHECKING, Any

from tastydesk.accounts.identity import (
    GENERATION_SEEN_KEY,
    IDENTITY_KEY,
    PAPER_CLOCK_KEY,
    SYNC_KEY,
    SYNC_PART,
    SideFacts,
)
from tastydesk.accounts.model import AccountRef
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import (
    Clock,
    MarketCalendar,
    RealClock,
    SimClock,
    load_nyse_early_closes,
    load_nyse_holidays,
)
from tastydesk.engine.config import EngineConfig
from tastydesk.engine.facade import EngineFacade
from tastydesk.engine.kernel import Kernel
from tastydesk.engine.nyse_days import nyse_days
from tastydesk.engine.store.service import AsyncStore, Store
from tastydesk.engine.tasks import TaskSupervisor
from tastydesk.paths import PAPER_STATE_FILE

if TYPE_CHECKING:  # the paper world is imported only when a paper engine opens
    from tastydesk.engine.broker.paper.broker import PaperBroker
    from tastydesk.engine.broker.paper.market import PaperMarket
    from tastydesk.engine.broker.paper.state import PaperState

log = logging.getLogger(__name__)

DB_FILE = "tastydesk.db"
HOLIDAYS_KEY = "nyse_holidays"


async def load_calendar(store: Store, years: tuple[int, int]) -> MarketCalendar:
    """Exchange holidays and early closes, cached in the store: from the bundled table
    (:mod:`tastydesk.engine.nyse_days`) inside its years, else computed, which imports pandas
    (about a second). The cache is read and written on a worker thread: this runs on the event
    loop, which must never wait on SQLite."""
    return await asyncio.to_thread(_load_calendar, store, years)


def _load_calendar(store: Store, years: tuple[int, int], keep: bool = True) -> MarketCalendar:
    from datetime import date, time

    cached = store.get_config(HOLIDAYS_KEY, None)
    if cached and cached.get("years") == list(years) and "early" in cached:
        return MarketCalendar((date.fromisoformat(d) for d in cached["days"]),
                              {date.fromisoformat(d): time.fromisoformat(t)
                               for d, t in cached["early"].items()})
    table = nyse_days(*years)  # the bundled table spares a first start importing pandas
    days, early = table if table is not None else (load_nyse_holidays(*years),
                                                   load_nyse_early_closes(*years))
    if not keep:  # a read-only store: computed for this session only
        return MarketCalendar(days, early)
    store.set_config(HOLIDAYS_KEY, {"years": list(years), "days": [d.isoformat() for d in days],
                                    "early": {d.isoformat(): t.isoformat()
                                              for d, t in early.items()}})
    return MarketCalendar(days, early)


class PaperDriver:
    """Moves paper time forward: every tick, ``speed`` x the wall time elapsed, skipping closes.

    The kernel's time-driver port (:class:`tastydesk.engine.ports.TimeDriver`). The paper clock is
    saved through the async store, so the loop never waits on the disk for it.
    """

    def __init__(self, clock: SimClock, market: PaperMarket, broker: PaperBroker,
                 calendar: MarketCalendar, store: AsyncStore, tick_s: float = 0.2,
                 paper_state: PaperState | None = None, sync: int = 0) -> None:
        self.clock = clock
        self.broker = broker
        self.market = market
        self.calendar = calendar
        self.store = store
        self.tick_s = tick_s
        self._task: asyncio.Task[None] | None = None
        self._saved_at = 0.0
        self._paper_state = paper_state
        self._sync = sync

    def start(self, tasks: TaskSupervisor) -> None:
        self._task = tasks.spawn_service(self._run(), "paper-driver")

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
        await self.sync()

    async def sync(self) -> None:
        """Bring the two files level: the app database records the paper save it has seen and
        the next pairing sync first, the paper state the same sync second (the order the rule
        in :mod:`tastydesk.accounts.identity` allows a crash to interrupt)."""
        if self._paper_state is None:
            return
        self._sync += 1
        await self.store.set_config(GENERATION_SEEN_KEY, self._paper_state.generation())
        await self.store.set_config(SYNC_KEY, self._sync)
        self._paper_state.save({SYNC_PART: self._sync})

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
                await self.sync()


class ForeignState(ValueError):
    """The paper state does not belong with the app database (another account's, or older)."""


def bind_identity(app: SideFacts, paper_state: Any, data_dir: Path) -> dict[str, Any] | None:
    """Give a new account its identity in both files, or prove the two files share one.

    ``app`` is what the app database holds. Writes the paper side;
    returns the identity the app database must record (None when it has it). Raises
    :class:`ForeignState` naming the file when the two do not belong together (the state-file
    checks refuse the same before a command or the app opens the engine).
    """
    from tastydesk.accounts.identity import account_of_dir, new_identity, pair_facts, pair_problem

    account = account_of_dir(data_dir)
    app_id = app.identity
    paper_id = paper_state.identity()
    sync = paper_state.load(SYNC_PART).get(SYNC_PART)
    facts = pair_facts(app, SideFacts(paper_id, paper_state.generation(),
                                      sync if isinstance(sync, int) else 0))
    found = pair_problem(facts, account, DB_FILE, PAPER_STATE_FILE)
    if found is not None:
        name, reason = found
        raise ForeignState(f"{data_dir / name}: {reason}")
    identity = app_id or paper_id or new_identity(account)
    if paper_id is None:
        paper_state.set_identity(identity)
    if facts.app_sync > facts.paper_sync:
        # The last sync stopped between its two writes: finish it before anything runs, so a
        # second such crash leaves the app database one ahead again, never two.
        paper_state.save({SYNC_PART: facts.app_sync})
    return identity if app_id is None else None


async def open_paper_engine(data_dir: Path, *, seed: int | None = None,
                            speed: float | None = None, start: datetime | None = None,
                            store: Store | None = None, inline_store: bool = False,
                            starting_cash: Decimal = Decimal("100000"),
                            wall: Clock | None = None) -> tuple[Kernel, PaperDriver]:
    from tastydesk.engine.broker.paper.broker import PaperBroker
    from tastydesk.engine.broker.paper.market import PaperMarket
    from tastydesk.engine.broker.paper.state import PaperState
    from tastydesk.paths import db_path

    def read_state() -> tuple[Store, dict[str, Any], Any, list[Any]]:
        opened = store or Store.open(db_path(data_dir))
        return (opened, opened.get_config("engine", None) or {},
                opened.get_config(PAPER_CLOCK_KEY, None), opened.list_strategies())

    def read_identity() -> SideFacts:
        values = [store.get_config(key, None)
                  for key in (IDENTITY_KEY, GENERATION_SEEN_KEY, SYNC_KEY)]
        return SideFacts(values[0] if isinstance(values[0], dict) else None,
                         *(v if isinstance(v, int) else 0 for v in values[1:]))

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
    app_facts = await asyncio.to_thread(read_identity)
    write_app = bind_identity(app_facts, paper_state, data_dir)
    if write_app is not None:
        await asyncio.to_thread(store.set_config, IDENTITY_KEY, write_app)
    market = PaperMarket(bus, clock, calendar, seed=seed, symbols=config.watchlist,
                         state=paper_state)
    resume = max(start, market.now) if market.now is not None else start
    market.step(resume)
    clock.advance(resume)
    # The paper broker holds orders to tastytrade's rules (four legs, ticks, halts, sessions):
    # what works on paper works live.
    broker = PaperBroker(market, bus, clock, seed=seed, state=paper_state,
                         starting_cash=starting_cash, strict_rules=True)
    async_store = AsyncStore(store, inline=inline_store)
    if not inline_store:  # saves off the event loop, in order with the engine's own writes
        paper_state.write_behind(async_store.submit)
    driver = PaperDriver(clock, market, broker, calendar, async_store, paper_state=paper_state,
                         sync=app_facts.sync)
    kernel = Kernel(broker=broker, store=async_store, bus=bus,
                    clock=clock, calendar=calendar, config=config,
                    strategies=strategies, driver=driver, wall=wall)
    return kernel, driver


async def open_engine(data_dir: Path, *, paper: bool | None = None, seed: int | None = None,
                      speed: float | None = None,
                      client_kwargs: dict[str, Any] | None = None,
                      wall: Clock | None = None,
                      account: AccountRef | None = None,
                      starting_cash: Decimal | None = None) -> EngineFacade:
    """The engine for the desktop, as the facade the UI holds (see :func:`open_kernel`)."""
    kernel = await open_kernel(data_dir, paper=paper, seed=seed, speed=speed,
                               client_kwargs=client_kwargs, wall=wall, account=account,
                               starting_cash=starting_cash)
    return kernel.facade


async def open_kernel(data_dir: Path, *, paper: bool | None = None, seed: int | None = None,
                      speed: float | None = None,
                      client_kwargs: dict[str, Any] | None = None,
                      wall: Clock | None = None,
                      account: AccountRef | None = None,
                      starting_cash: Decimal | None = None) -> Kernel:
    """Build the engine on ``data_dir``, the directory of one account's files.

    ``account`` says which account that is: a paper account opens the paper engine (its seed
    and starting cash from ``seed`` / ``starting_cash``); a sandbox or live account opens the
    tastytrade broker on exactly that environment and account number, and never falls back to
    paper over its files. Without ``account`` (older callers, tests): paper unless a tastytrade
    login is stored. In paper mode ``start()`` also starts the real-time paper driver.
    ``client_kwargs`` reach the tastytrade SDK's HTTP client (tests pass an in-process
    transport). ``wall`` is the trader's clock for approval windows (the real clock unless a
    test steps its own).
    """
    if account is not None:
        if account.is_paper:
            kernel, _driver = await open_paper_engine(
                data_dir, seed=seed, speed=speed, wall=wall or RealClock(),
                starting_cash=starting_cash or Decimal("100000"))
            return kernel
        live = await _open_live_engine(data_dir, client_kwargs, envs=(account.kind.value,),
                                       account_number=account.name)
        if live is None:
            raise LoginUnavailable(f"no stored tastytrade {account.kind.value} login for "
                                   f"account {account.name}; log in again or switch account")
        return live
    if paper is None:
        paper = not _has_credentials()
    if not paper:
        kernel = await _open_live_engine(data_dir, client_kwargs)
        if kernel is not None:
            return kernel
        log.warning("stored tastytrade login unusable; starting in paper mode")
    # A trader works this engine: approval windows run on the wall clock, not paper time.
    kernel, _driver = await open_paper_engine(data_dir, seed=seed, speed=speed,
                                              wall=wall or RealClock())
    return kernel


async def open_read_only_engine(data_dir: Path, reason: str, *,
                                account: AccountRef | None = None,
                                wall: Clock | None = None) -> EngineFacade:
    """The account in ``data_dir`` opened only to be looked at, because ``reason`` (its files
    were refused; the facade and the title say so).

    The app database is opened with SQLite's read-only URI: no migration, no default
    strategies, no calendar cache, no backup, no identity or generation write (raises
    :class:`~tastydesk.engine.store.errors.StoreError` naming the file when it cannot be read
    so). The paper state is not opened at all: it may be the refused file. The broker is
    :class:`~tastydesk.engine.readonly.ReadOnlyBroker` (no session, nothing sent), the kernel
    starts without reconciling, automation stays disarmed, and every command is refused.
    """
    from tastydesk.accounts.model import AccountKind
    from tastydesk.engine.domain.enums import Mode
    from tastydesk.engine.readonly import ReadOnlyBroker
    from tastydesk.paths import db_path

    def read_state() -> tuple[Store, dict[str, Any], Any, list[Any], MarketCalendar]:
        opened = Store.open(db_path(data_dir), read_only=True)
        now = datetime.now(UTC)
        return (opened, opened.get_config("engine", None) or {},
                opened.get_config(PAPER_CLOCK_KEY, None), opened.list_strategies(),
                _load_calendar(opened, (now.year - 1, now.year + 2), keep=False))

    store, stored_config, saved, strategies, calendar = await asyncio.to_thread(read_state)
    kind = account.kind if account is not None else AccountKind.PAPER
    mode = {AccountKind.PAPER: Mode.PAPER, AccountKind.SANDBOX: Mode.SANDBOX,
            AccountKind.LIVE: Mode.LIVE}[kind]
    # A paper account shows its own (stopped) paper time; a tastytrade account real time.
    clock: Clock = (SimClock(datetime.fromisoformat(saved)) if mode is Mode.PAPER and saved
                    else RealClock())
    if isinstance(clock, SimClock):
        clock.set_speed(0.0)  # nothing drives it: the toolbar shows paper time standing still
    kernel = Kernel(broker=ReadOnlyBroker(mode, reason), store=AsyncStore(store),
                    bus=EventBus(), clock=clock, calendar=calendar,
                    config=EngineConfig.from_dict(stored_config), strategies=strategies,
                    wall=wall or RealClock(), read_only=reason)
    return kernel.facade


class LoginUnavailable(RuntimeError):
    """A tastytrade account was chosen but no usable login for it is stored."""


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
                            client_kwargs: dict[str, Any] | None = None,
                            envs: tuple[str, ...] = ("live", "sandbox"),
                            account_number: str | None = None) -> Kernel | None:
    from tastydesk.engine.broker.tastytrade.adapter import TastytradeBroker
    from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore
    from tastydesk.paths import db_path

    creds_store = KeyringCredentialStore()
    for env in envs:
        try:
            creds = creds_store.load(env)
        except Exception as exc:  # keyring back ends raise their own types
            if account_number is None:
                raise
            raise LoginUnavailable(f"the system keyring could not give the tastytrade {env} "
                                   f"login ({exc})") from exc
        if creds is None:
            continue
        def read_state(env: str = env) -> tuple[Store, dict[str, Any], Any, list[Any]]:
            opened = Store.open(db_path(data_dir))
            if account_number is not None:  # the chosen account's own directory
                opened.set_config(f"account:{env}", account_number)
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
