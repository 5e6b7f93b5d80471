"""``TastytradeBroker``: the broker port on the tastytrade SDK (REST, account streamer, DXLink).

The broker composes one part per concern and wires them together:

* :class:`~.session.RestClient`: the SDK session, login, paced and classified REST calls;
* :class:`~.account.AccountBook`: orders, fills, positions and balance, kept in step;
* :class:`~.orders.OrderDesk`: dry run, place, replace, cancel and lookups (never re-sent);
* :class:`~.market.MarketData`: metrics, chains, trading rules and what DXLink streams;
* :class:`~.lifecycle.LifecycleFeed`: expirations, assignments, deliveries and dividends from
  the transaction history;
* :class:`~.streams.MarketStream` / :class:`~.streams.AccountStream`: supervised websockets.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from tastydesk.engine.broker.tastytrade.account import AccountBook
from tastydesk.engine.broker.tastytrade.lifecycle import LifecycleFeed
from tastydesk.engine.broker.tastytrade.market import MarketData
from tastydesk.engine.broker.tastytrade.orders import OrderDesk
from tastydesk.engine.broker.tastytrade.ratelimit import Backoff
from tastydesk.engine.broker.tastytrade.session import (  # noqa: F401  (credentials imports these)
    _CURRENT,
    LOGIN_MARKERS,
    USER_AGENT,
    RestClient,
    RestSettings,
    _Exchange,
    _install_sdk_log_redaction,
    _record_response,
)
from tastydesk.engine.broker.tastytrade.streams import (
    AccountStream,
    MarketStream,
    StreamSettings,
    describe,
)
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.account import AccountInfo, Balance, BrokerPosition
from tastydesk.engine.domain.chain import Expiration, OptionChain, UnderlyingInfo
from tastydesk.engine.domain.enums import Mode, StreamHealth
from tastydesk.engine.domain.events import ConnectionChanged, StreamGap
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId
from tastydesk.engine.domain.instruments import TradingRules
from tastydesk.engine.domain.lifecycle import LifecycleEvent
from tastydesk.engine.domain.orders import (
    CommandResult,
    DryRunResult,
    OrderRequest,
    OrderSnapshot,
)
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.tasks import TaskSupervisor

log = logging.getLogger(__name__)


class TastytradeBroker(BrokerPort):
    """tastytrade through the official SDK, for the sandbox (cert) or production."""

    def __init__(self, bus: EventBus, clock: Clock, *, provider_secret: str, refresh_token: str,
                 sandbox: bool = False, account_number: str | None = None,
                 client_kwargs: dict[str, Any] | None = None, request_timeout: float = 10.0,
                 stream_settings: StreamSettings | None = None, rate_limit: float = 10.0,
                 rate_burst: int = 10, read_retries: int = 3, retry_backoff: float = 0.5,
                 stream_connect_timeout: float = 10.0, seed: int | None = None,
                 chain_wait_s: float = 3.0) -> None:
        if not provider_secret or not provider_secret.strip():
            raise ValueError("provider_secret: must not be empty")
        if not refresh_token or not refresh_token.strip():
            raise ValueError("refresh_token: must not be empty")
        if request_timeout <= 0:
            raise ValueError(f"request_timeout: must be positive, got {request_timeout}")
        if read_retries < 0:
            raise ValueError(f"read_retries: must not be negative, got {read_retries}")
        self.mode = Mode.SANDBOX if sandbox else Mode.LIVE
        self._bus = bus
        self._clock = clock
        self._settings = stream_settings or StreamSettings()
        self._rng = random.Random(seed)
        self._connect_timeout = stream_connect_timeout
        self._rest = RestClient(
            bus, clock, provider_secret=provider_secret, refresh_token=refresh_token,
            sandbox=sandbox, client_kwargs=dict(client_kwargs or {}),
            settings=RestSettings(request_timeout, rate_limit, rate_burst, read_retries),
            backoff=Backoff(retry_backoff, max(retry_backoff, 8.0), self._rng),
            on_login_lost=self._stop_streams)
        self._book = AccountBook(self._rest, bus, clock, account_number)
        self._orders = OrderDesk(self._rest, self._book, clock)
        # How long a chain or metrics request waits for streamed values (0: cached only).
        self._market_data = MarketData(self._rest, bus, clock, stream_wait_s=chain_wait_s)
        self._lifecycle = LifecycleFeed(self._rest, self._book, bus, clock)
        self._tasks = TaskSupervisor()
        self._market: MarketStream | None = None
        self._account_stream: AccountStream | None = None

    def __repr__(self) -> str:
        return f"TastytradeBroker(mode={self.mode.value}, account={self.account_number!r})"

    @property
    def account_number(self) -> str | None:
        return self._book.account_number

    @property
    def login_required(self) -> bool:
        return self._rest.login_detail is not None

    # ------------------------------------------------------------------ lifecycle
    async def connect(self) -> None:
        if self._rest.session is not None:
            return
        session = await self._rest.open()
        try:
            await self._book.choose()
            await self._book.resync(publish=False)
            await self._lifecycle.start()
        except BaseException:
            await self._rest.close()
            raise
        self._rest.set_health(StreamHealth.CONNECTED, "logged in")
        common = {"on_health": self._on_stream_health, "on_gap": self._on_gap,
                  "on_failure": self._on_stream_failure, "rng": self._rng}
        self._market = MarketStream(session, self._settings,
                                    handlers=self._market_data.handlers(), **common)
        self._market_data.attach(self._market)
        self._account_stream = AccountStream(
            session, self._book.account, self._settings, on_order=self._book.on_order_event,
            on_balance=self._book.on_balance_event, on_position=self._book.on_position_event,
            on_transaction=self._lifecycle.check_soon, **common)
        self._tasks.spawn(self._market.run(), "tastytrade-market-stream")
        self._tasks.spawn(self._account_stream.run(), "tastytrade-account-stream")
        waits = [asyncio.ensure_future(s.connected.wait())
                 for s in (self._market, self._account_stream)]
        _done, pending = await asyncio.wait(waits, timeout=self._connect_timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("tastytrade streams not connected after %.1fs; they keep retrying",
                        self._connect_timeout)

    async def close(self) -> None:
        self._stop_streams()
        await self._lifecycle.stop()
        await self._tasks.cancel_all()
        for stream in (self._market, self._account_stream):
            if stream is not None and stream.health is not StreamHealth.DISCONNECTED:
                self._on_stream_health(stream.name, StreamHealth.DISCONNECTED, "closed")
        self._market = self._account_stream = None
        self._market_data.attach(None)
        await self._rest.close()
        self._rest.set_health(StreamHealth.DISCONNECTED, "closed")

    def _stop_streams(self) -> None:
        for stream in (self._market, self._account_stream):
            if stream is not None:
                stream.stop()

    def health(self) -> dict[str, StreamHealth]:
        return {
            "market": self._market.health if self._market else StreamHealth.DISCONNECTED,
            "account": (self._account_stream.health if self._account_stream
                        else StreamHealth.DISCONNECTED),
        }

    async def _on_gap(self, stream: str) -> None:
        self._bus.publish(StreamGap(stream, self._clock.now()))
        await self._book.resync(publish=True)
        if stream == "account":
            self._lifecycle.check_soon()  # what happened during the gap

    def _on_stream_health(self, stream: str, health: StreamHealth, detail: str) -> None:
        self._bus.publish(ConnectionChanged(stream, health, detail, self._clock.now()))

    def _on_stream_failure(self, exc: BaseException) -> bool:
        """True when the stream must stop retrying because the login is gone."""
        if self._rest.login_detail is not None:
            return True
        text = describe(exc)
        if any(marker in text for marker in LOGIN_MARKERS):
            self._rest.lose_login(text)
            return True
        return False

    # ------------------------------------------------------------------ account
    async def accounts(self) -> list[AccountInfo]:
        return await self._book.accounts()

    async def balance(self) -> Balance:
        return await self._book.balance()

    async def positions(self) -> list[BrokerPosition]:
        return await self._book.positions()

    async def live_orders(self) -> list[OrderSnapshot]:
        return await self._book.live_orders()

    async def lifecycle_events(self, since: datetime | None) -> list[LifecycleEvent]:
        return await self._lifecycle.events(since)

    # ------------------------------------------------------------------ orders
    async def dry_run(self, order: OrderRequest) -> DryRunResult:
        return await self._orders.dry_run(order)

    async def place(self, order: OrderRequest) -> CommandResult:
        return await self._orders.place(order)

    async def replace(self, order_id: BrokerOrderId, price: Decimal) -> CommandResult:
        return await self._orders.replace(order_id, price)

    async def cancel(self, order_id: BrokerOrderId) -> CommandResult:
        return await self._orders.cancel(order_id)

    async def get_order(self, order_id: BrokerOrderId) -> OrderSnapshot | None:
        return await self._orders.get_order(order_id)

    async def find_order(self, external_id: ExternalOrderId) -> OrderSnapshot | None:
        return await self._orders.find_order(external_id)

    # ------------------------------------------------------------------ market data
    async def market_metrics(self, symbols: Iterable[str]) -> dict[str, UnderlyingInfo]:
        return await self._market_data.market_metrics(symbols)

    async def expirations(self, symbol: str) -> list[Expiration]:
        return await self._market_data.expirations(symbol)

    async def option_chain(self, symbol: str, min_dte: int = 0, max_dte: int = 400) -> OptionChain:
        return await self._market_data.option_chain(symbol, min_dte, max_dte)

    async def trading_rules(self, symbol: str) -> TradingRules:
        return await self._market_data.trading_rules(symbol)

    async def subscribe(self, symbols: Iterable[str]) -> None:
        await self._market_data.subscribe(symbols)

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        await self._market_data.unsubscribe(symbols)
