"""Supervised DXLink and account-streamer connections.

SDK 13.2.3 streamers neither reconnect nor (for the account streamer) heartbeat, and DXLink can go
silent without closing. Each stream here runs in a loop: connect, subscribe, pump events, and on
any failure back off exponentially with jitter and start again. A watchdog forces a reconnect when
nothing at all (data, acks, keepalives) arrived for ``stale_after`` seconds. After every reconnect
the owner is told (``on_gap``) so it can publish ``StreamGap`` and re-sync over REST.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tastydesk.engine.broker.tastytrade.ratelimit import Backoff
from tastydesk.engine.domain.enums import StreamHealth

log = logging.getLogger(__name__)

DAILY = "1d"  # candle period for trend history


@dataclass(frozen=True, slots=True)
class StreamSettings:
    backoff_initial: float = 1.0  # seconds before the first reconnect attempt
    backoff_max: float = 60.0
    stale_after: float = 60.0  # silence that forces a reconnect
    heartbeat: float = 20.0  # account-streamer heartbeat interval
    chunk_size: int = 200  # symbols per DXLink subscription message
    subscribe_timeout: float = 10.0

    def __post_init__(self) -> None:
        for name in ("backoff_initial", "backoff_max", "stale_after", "heartbeat",
                     "subscribe_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"stream settings: {name} must be positive")
        if self.chunk_size < 1:
            raise ValueError("stream settings: chunk_size must be at least 1")


class StreamStale(Exception):
    """Raised by the watchdog: the connection is open but nothing arrived for too long."""


class _WatchedSocket:
    """Wraps the SDK's websocket: stamps every inbound frame and can drop invalid payloads.

    The SDK readers fetch ``self._websocket`` on every loop iteration, so replacing the attribute
    with this proxy after the handshake sees all later frames.
    """

    def __init__(self, inner: Any, stamp: Callable[[], None],
                 guard: Callable[[Any], bool] | None = None) -> None:
        self._inner = inner
        self._stamp = stamp
        self._guard = guard

    async def receive_json(self, *args: Any, **kwargs: Any) -> Any:
        while True:
            data = await self._inner.receive_json(*args, **kwargs)
            self._stamp()
            if self._guard is None or self._guard(data):
                return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _walk(exc: BaseException) -> Iterable[BaseException]:
    yield exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _walk(inner)
    if exc.__cause__ is not None:
        yield from _walk(exc.__cause__)


def describe(exc: BaseException) -> str:
    """One line for an exception, unwrapping the SDK's nested exception groups."""
    leaves = [e for e in _walk(exc) if not isinstance(e, BaseExceptionGroup)]
    leaf = leaves[0] if leaves else exc
    return f"{type(leaf).__name__}: {leaf}"[:300]


class SupervisedStream(ABC):
    """Connect / pump / reconnect loop with health tracking and a silence watchdog."""

    def __init__(self, name: str, settings: StreamSettings, *,
                 on_health: Callable[[str, StreamHealth, str], None],
                 on_gap: Callable[[str], Awaitable[None]],
                 on_failure: Callable[[BaseException], bool],
                 rng: random.Random | None = None) -> None:
        self.name = name
        self.settings = settings
        self._on_health = on_health
        self._on_gap = on_gap
        self._on_failure = on_failure
        self._backoff = Backoff(settings.backoff_initial, settings.backoff_max, rng)
        self._health = StreamHealth.DISCONNECTED
        self._last_frame = time.monotonic()
        self._was_connected = False
        self._closing = False
        self._reached = False  # the last session got as far as CONNECTED
        self.connects = 0
        self.connected = asyncio.Event()

    @property
    def health(self) -> StreamHealth:
        return self._health

    def _set_health(self, health: StreamHealth, detail: str) -> None:
        if health is not self._health:
            self._health = health
            if health is StreamHealth.CONNECTED:
                self.connected.set()
            else:
                self.connected.clear()
            self._on_health(self.name, health, detail)

    def stamp(self) -> None:
        self._last_frame = time.monotonic()

    def stop(self) -> None:
        self._closing = True

    async def run(self) -> None:
        attempt = 0
        while not self._closing:
            self._set_health(StreamHealth.CONNECTING, "connecting")
            try:
                await self._session()
                detail = "stream ended"
            except StreamStale as exc:
                self._set_health(StreamHealth.STALE, str(exc))
                detail = str(exc)
            except Exception as exc:
                detail = describe(exc)
                stale = next((e for e in _walk(exc) if isinstance(e, StreamStale)), None)
                if stale is not None:
                    self._set_health(StreamHealth.STALE, str(stale))
                if self._on_failure(exc):
                    self._set_health(StreamHealth.DISCONNECTED, f"login required: {detail}")
                    return
            if self._closing:
                break
            self._set_health(StreamHealth.DISCONNECTED, detail)
            if self._reached:
                attempt, self._reached = 0, False
            delay = self._backoff.delay(attempt)
            attempt += 1
            log.warning("%s stream down (%s); reconnecting in %.2fs", self.name, detail, delay)
            await asyncio.sleep(delay)
        self._set_health(StreamHealth.DISCONNECTED, "closed")

    async def _connected(self) -> None:
        """Called by a session once subscribed: health, and the gap/re-sync after a reconnect."""
        self.connects += 1
        self._reached = True
        self.stamp()
        self._set_health(StreamHealth.CONNECTED, "connected")
        if self._was_connected:
            try:
                await self._on_gap(self.name)
            except Exception as exc:
                log.warning("%s re-sync after reconnect failed: %s", self.name, describe(exc))
        self._was_connected = True

    async def _watchdog(self) -> None:
        limit = self.settings.stale_after
        while True:
            await asyncio.sleep(min(limit / 4, 1.0))
            silent = time.monotonic() - self._last_frame
            if silent > limit:
                raise StreamStale(f"{self.name} stream silent for {silent:.1f}s")

    @abstractmethod
    async def _session(self) -> None:
        """Run one connection until it fails; call :meth:`_connected` once it is usable."""


@dataclass(frozen=True, slots=True)
class MarketHandlers:
    """Where the market stream delivers each DXLink event type (SDK event objects)."""

    quote: Callable[[Any], None]
    greeks: Callable[[Any], None]
    summary: Callable[[Any], None]
    candle: Callable[[Any], None]


class MarketStream(SupervisedStream):
    """DXLink quotes for every subscribed symbol; greeks and summaries (open interest) for
    option streamer symbols; daily candles for the underlyings whose trend is wanted."""

    def __init__(self, session: Any, settings: StreamSettings, *, handlers: MarketHandlers,
                 **kwargs: Any) -> None:
        super().__init__("market", settings, **kwargs)
        self._sdk_session = session
        self._handlers = handlers
        self.symbols: set[str] = set()
        self.candles: dict[str, datetime] = {}  # ticker -> first day of daily candles wanted
        self._streamer: Any = None

    async def add_candles(self, symbols: Iterable[str], since: datetime) -> None:
        """Stream daily candles from ``since`` for these tickers (kept across reconnects)."""
        new = sorted(set(symbols) - set(self.candles))
        for symbol in new:
            self.candles[symbol] = since
        if new and self._streamer is not None:
            try:
                await self._send_candles(self._streamer, new)
            except Exception as exc:  # the reconnect re-subscribes everything
                log.warning("candle subscribe failed: %s", describe(exc))

    async def _send_candles(self, streamer: Any, symbols: list[str]) -> None:
        for symbol in symbols:
            await asyncio.wait_for(
                streamer.subscribe_candle([symbol], DAILY, self.candles[symbol]),
                self.settings.subscribe_timeout)

    async def add(self, symbols: Iterable[str]) -> None:
        new = sorted(set(symbols) - self.symbols)
        self.symbols.update(new)
        if new and self._streamer is not None:
            try:
                await self._send(self._streamer, new, add=True)
            except Exception as exc:  # the reconnect re-subscribes everything
                log.warning("market subscribe failed: %s", describe(exc))

    async def remove(self, symbols: Iterable[str]) -> None:
        gone = sorted(set(symbols) & self.symbols)
        self.symbols.difference_update(gone)
        if gone and self._streamer is not None:
            try:
                await self._send(self._streamer, gone, add=False)
            except Exception as exc:
                log.warning("market unsubscribe failed: %s", describe(exc))

    async def _send(self, streamer: Any, symbols: list[str], *, add: bool) -> None:
        from tastytrade.dxfeed import Greeks, Quote, Summary

        size = self.settings.chunk_size
        options = [s for s in symbols if s.startswith(".")]
        for event_class, names in ((Quote, symbols), (Greeks, options), (Summary, options)):
            for i in range(0, len(names), size):
                chunk = names[i:i + size]
                if add:
                    await asyncio.wait_for(streamer.subscribe(event_class, chunk),
                                           self.settings.subscribe_timeout)
                else:
                    await streamer.unsubscribe(event_class, chunk)

    async def _session(self) -> None:
        from tastytrade import DXLinkStreamer
        from tastytrade.dxfeed import Candle, Greeks, Quote, Summary

        async with DXLinkStreamer(self._sdk_session) as streamer:
            streamer._websocket = _WatchedSocket(streamer._websocket, self.stamp)
            try:
                if self.symbols:
                    await self._send(streamer, sorted(self.symbols), add=True)
                if self.candles:
                    try:
                        await self._send_candles(streamer, sorted(self.candles))
                    except Exception as exc:  # quotes and greeks matter more than the trend
                        log.warning("candle subscribe failed: %s", describe(exc))
                self._streamer = streamer
                handlers = self._handlers
                async with asyncio.TaskGroup() as tg:
                    for event_class, handler in ((Quote, handlers.quote),
                                                 (Greeks, handlers.greeks),
                                                 (Summary, handlers.summary),
                                                 (Candle, handlers.candle)):
                        tg.create_task(self._pump(streamer, event_class, handler))
                    tg.create_task(self._watchdog())
                    await self._connected()
            finally:
                self._streamer = None

    @staticmethod
    async def _pump(streamer: Any, event_class: type, handler: Callable[[Any], None]) -> None:
        async for event in streamer.listen(event_class):
            handler(event)


class AccountStream(SupervisedStream):
    """Order, balance and position notifications for one account, with a heartbeat.

    Transaction notifications (any type naming a transaction; the SDK has no model for most
    and drops them) are passed on as a bare signal: the owner reads the history over REST.
    """

    def __init__(self, session: Any, account: Any, settings: StreamSettings, *,
                 on_order: Callable[[Any], None], on_balance: Callable[[Any], None],
                 on_position: Callable[[Any], None], on_transaction: Callable[[], None],
                 **kwargs: Any) -> None:
        super().__init__("account", settings, **kwargs)
        self._sdk_session = session
        self._account = account
        self._handlers = {"Order": on_order, "AccountBalance": on_balance,
                          "CurrentPosition": on_position}
        self._on_transaction = on_transaction
        self.heartbeats = 0

    def _guard(self, data: Any) -> bool:
        """Drop (and report) a notification the SDK would fail to parse, keeping the stream."""
        from pydantic import ValidationError
        from tastytrade.streamer import MAP_ALERTS

        if not isinstance(data, dict):
            return False
        kind = data.get("type")
        if isinstance(kind, str) and "Transaction" in kind:
            self._on_transaction()
        if kind is None or kind not in MAP_ALERTS:
            return True
        try:
            MAP_ALERTS[kind].model_validate(data.get("data") or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first.get("loc", ())) or "?"
            log.error("invalid %s notification from tastytrade: field %r: %s (skipped)",
                      kind, field, first.get("msg", "invalid"))
            return False
        return True

    async def _session(self) -> None:
        from tastytrade import AlertStreamer
        from tastytrade.account import AccountBalance, CurrentPosition
        from tastytrade.order import PlacedOrder
        from tastytrade.streamer import SubscriptionType

        async with AlertStreamer(self._sdk_session) as streamer:
            streamer._websocket = _WatchedSocket(streamer._websocket, self.stamp, self._guard)
            await asyncio.wait_for(streamer.subscribe_accounts([self._account]),
                                   self.settings.subscribe_timeout)

            async def heartbeat() -> None:
                while True:
                    await asyncio.sleep(self.settings.heartbeat)
                    await asyncio.wait_for(streamer._subscribe(SubscriptionType.HEARTBEAT),
                                           self.settings.subscribe_timeout)
                    self.heartbeats += 1

            async with asyncio.TaskGroup() as tg:
                for model, key in ((PlacedOrder, "Order"), (AccountBalance, "AccountBalance"),
                                   (CurrentPosition, "CurrentPosition")):
                    tg.create_task(self._pump(streamer, model, self._handlers[key]))
                tg.create_task(heartbeat())
                tg.create_task(self._watchdog())
                await self._connected()

    @staticmethod
    async def _pump(streamer: Any, model: type, handler: Callable[[Any], None]) -> None:
        async for item in streamer.listen(model):
            handler(item)
