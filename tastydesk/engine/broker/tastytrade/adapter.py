"""``TastytradeBroker``: the broker port on the tastytrade SDK (REST, account streamer, DXLink).

Every REST call goes through :meth:`TastytradeBroker._call`, which paces requests, bounds them with
an explicit deadline, records the HTTP status the SDK would otherwise drop, and classifies failures
(definitive rejection, ambiguous, expired access token, dead grant). Reads are retried with backoff;
order commands never are: an ambiguous outcome is returned as UNKNOWN for the engine to resolve
with :meth:`find_order`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from tastydesk import __version__
from tastydesk.engine.broker.tastytrade import mapping
from tastydesk.engine.broker.tastytrade.errors import (
    BrokerPayloadError,
    BrokerUnavailable,
    Failure,
    FailureKind,
    LoginRequired,
    TastytradeAdapterError,
    classify,
)
from tastydesk.engine.broker.tastytrade.ratelimit import Backoff, RateLimiter
from tastydesk.engine.broker.tastytrade.streams import (
    AccountStream,
    MarketStream,
    StreamSettings,
    describe,
)
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.account import AccountInfo, Balance, BrokerPosition
from tastydesk.engine.domain.chain import Expiration, Greeks, OptionChain, Quote, UnderlyingInfo
from tastydesk.engine.domain.enums import CommandOutcome, Mode, StreamHealth
from tastydesk.engine.domain.events import (
    BalanceUpdated,
    ConnectionChanged,
    FillReceived,
    GreeksReceived,
    OrderUpdated,
    PositionUpdated,
    QuoteReceived,
    StreamGap,
)
from tastydesk.engine.domain.orders import (
    CommandResult,
    DryRunResult,
    OrderRequest,
    OrderSnapshot,
)
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.tasks import TaskSupervisor

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_AGENT = f"tastydesk/{__version__}"
_LOGIN_MARKERS = ("invalid_grant", "invalid_client", "unauthorized_client")


@dataclass
class _Exchange:
    """The last HTTP response seen by one adapter call (status and path)."""

    status: int | None = None
    path: str | None = None


_CURRENT: ContextVar[_Exchange | None] = ContextVar("tastydesk_tastytrade_exchange", default=None)


async def _record_response(response: Any) -> None:
    exchange = _CURRENT.get()
    if exchange is not None:
        exchange.status = response.status_code
        exchange.path = response.request.url.path


class _CallFailed(Exception):
    def __init__(self, op: str, failure: Failure) -> None:
        super().__init__(f"{op}: {failure.reason}")
        self.op = op
        self.failure = failure


def _install_sdk_log_redaction() -> None:
    """The SDK logs websocket frames at DEBUG, auth tokens included: scrub them at the source."""
    from tastydesk.paths import RedactingFilter

    sdk_logger = logging.getLogger("tastytrade")
    if not any(isinstance(f, RedactingFilter) for f in sdk_logger.filters):
        sdk_logger.addFilter(RedactingFilter())


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
        # How long a chain request waits for streamed greeks (0: return cached values only).
        self.chain_wait_s = chain_wait_s
        self._nested: dict[str, tuple[float, Any]] = {}
        self._bus = bus
        self._clock = clock
        self._secret = provider_secret
        self._refresh = refresh_token
        self._sandbox = sandbox
        self._wanted_account = account_number
        self._client_kwargs = dict(client_kwargs or {})
        self._timeout = request_timeout
        self._settings = stream_settings or StreamSettings()
        self._limiter = RateLimiter(rate_limit, rate_burst)
        self._read_retries = read_retries
        self._rng = random.Random(seed)
        self._backoff = Backoff(retry_backoff, max(retry_backoff, 8.0), self._rng)
        self._connect_timeout = stream_connect_timeout
        self._tasks = TaskSupervisor()
        self._stack = contextlib.AsyncExitStack()
        self._session: Any = None
        self._account: Any = None
        self._market: MarketStream | None = None
        self._account_stream: AccountStream | None = None
        self._login_detail: str | None = None
        self._rest_health = StreamHealth.DISCONNECTED
        self._orders: dict[str, OrderSnapshot] = {}
        self._fill_ids: set[str] = set()
        self._positions: dict[str, BrokerPosition] = {}
        self._balance: Balance | None = None
        self.quotes: dict[str, Quote] = {}
        self.greeks: dict[str, Greeks] = {}

    def __repr__(self) -> str:
        return f"TastytradeBroker(mode={self.mode.value}, account={self.account_number!r})"

    @property
    def account_number(self) -> str | None:
        return self._account.account_number if self._account is not None else None

    @property
    def login_required(self) -> bool:
        return self._login_detail is not None

    # ------------------------------------------------------------------ lifecycle
    async def connect(self) -> None:
        if self._session is not None:
            return
        import httpx2
        from tastytrade import Account, Session

        _install_sdk_log_redaction()
        self._login_detail = None
        self._set_rest(StreamHealth.CONNECTING, "logging in")
        session = Session(self._secret, self._refresh, is_test=self._sandbox,
                          **self._client_kwargs)
        session._client.headers["User-Agent"] = USER_AGENT
        session._client.timeout = httpx2.Timeout(self._timeout)
        session._client.event_hooks = {"request": [], "response": [_record_response]}
        await self._stack.enter_async_context(session)
        self._session = session
        try:
            await self._call("login", session.refresh, idempotent=True)
            accounts = await self._call("accounts", lambda: Account.get(session), idempotent=True)
            self._account = self._pick_account(accounts)
            await self._resync(publish=False)
        except BaseException:
            await self._shutdown_session()
            raise
        self._set_rest(StreamHealth.CONNECTED, "logged in")
        common = {"on_health": self._on_stream_health, "on_gap": self._on_gap,
                  "on_failure": self._on_stream_failure, "rng": self._rng}
        self._market = MarketStream(session, self._settings, on_quote=self._on_quote,
                                    on_greeks=self._on_greeks, **common)
        self._account_stream = AccountStream(
            session, self._account, self._settings, on_order=self._on_order_event,
            on_balance=self._on_balance_event, on_position=self._on_position_event, **common)
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

    def _pick_account(self, accounts: list[Any]) -> Any:
        if not accounts:
            raise TastytradeAdapterError("this tastytrade login has no open accounts")
        if self._wanted_account is None:
            return accounts[0]
        for account in accounts:
            if account.account_number == self._wanted_account:
                return account
        raise TastytradeAdapterError(
            f"account_number: {self._wanted_account!r} is not an open account of this login")

    async def close(self) -> None:
        for stream in (self._market, self._account_stream):
            if stream is not None:
                stream.stop()
        await self._tasks.cancel_all()
        for stream in (self._market, self._account_stream):
            if stream is not None and stream.health is not StreamHealth.DISCONNECTED:
                self._on_stream_health(stream.name, StreamHealth.DISCONNECTED, "closed")
        self._market = self._account_stream = None
        await self._shutdown_session()
        self._set_rest(StreamHealth.DISCONNECTED, "closed")

    async def _shutdown_session(self) -> None:
        await self._stack.aclose()
        self._stack = contextlib.AsyncExitStack()
        self._session = None

    def health(self) -> dict[str, StreamHealth]:
        return {
            "market": self._market.health if self._market else StreamHealth.DISCONNECTED,
            "account": (self._account_stream.health if self._account_stream
                        else StreamHealth.DISCONNECTED),
        }

    # ------------------------------------------------------------------ REST plumbing
    def _set_rest(self, health: StreamHealth, detail: str) -> None:
        if health is not self._rest_health or health is StreamHealth.DISCONNECTED:
            self._rest_health = health
            self._bus.publish(ConnectionChanged("rest", health, detail, self._clock.now()))

    def _lose_login(self, reason: str) -> LoginRequired:
        if self._login_detail is None:
            self._login_detail = reason
            log.error("tastytrade login required: %s", reason)
            self._set_rest(StreamHealth.DISCONNECTED, f"login required: {reason}")
            for stream in (self._market, self._account_stream):
                if stream is not None:
                    stream.stop()
        return LoginRequired(f"login required: {self._login_detail}")

    async def _call(self, op: str, fn: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """Run one SDK call with pacing, a deadline, classification and (reads only) retries."""
        if self._session is None:
            raise TastytradeAdapterError(f"{op}: not connected (call connect() first)")
        if self._login_detail is not None:
            raise LoginRequired(f"login required: {self._login_detail}")
        attempt = 0
        refreshed = False
        while True:
            await self._limiter.acquire()
            exchange = _Exchange()
            token = _CURRENT.set(exchange)
            try:
                async with asyncio.timeout(self._timeout):
                    return await fn()
            except Exception as exc:
                failure = classify(exc, exchange.status, exchange.path)
            finally:
                _CURRENT.reset(token)
            if failure.kind is FailureKind.LOGIN:
                raise self._lose_login(failure.reason)
            if failure.kind is FailureKind.AUTH:
                if refreshed:
                    raise self._lose_login(f"access token refused after refresh: "
                                           f"{failure.reason}")
                refreshed = True
                await self._force_refresh(op)
                continue  # a 401 proves the request was not processed: sending again is safe
            if failure.kind is FailureKind.UNKNOWN and idempotent and attempt < self._read_retries:
                delay = self._backoff.delay(attempt)
                attempt += 1
                log.warning("tastytrade %s failed (%s); retry %d in %.2fs", op, failure.reason,
                            attempt, delay)
                await asyncio.sleep(delay)
                continue
            raise _CallFailed(op, failure)

    async def _force_refresh(self, op: str) -> None:
        exchange = _Exchange()
        token = _CURRENT.set(exchange)
        try:
            async with asyncio.timeout(self._timeout):
                await self._session.refresh(force=True)
        except Exception as exc:
            failure = classify(exc, exchange.status, exchange.path)
            if failure.kind is FailureKind.LOGIN:
                raise self._lose_login(failure.reason) from None
            raise _CallFailed(op, failure) from None
        finally:
            _CURRENT.reset(token)

    async def _read(self, op: str, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await self._call(op, fn, idempotent=True)
        except _CallFailed as exc:
            if exc.failure.kind is FailureKind.REJECTED:
                raise TastytradeAdapterError(f"{op} refused by tastytrade: "
                                             f"{exc.failure.reason}") from None
            raise BrokerUnavailable(f"{op} failed: {exc.failure.reason}") from None

    # ------------------------------------------------------------------ account reads
    async def accounts(self) -> list[AccountInfo]:
        from tastytrade import Account

        raw = await self._read("accounts", lambda: Account.get(self._session))
        return [mapping.account_info(a) for a in raw]

    async def balance(self) -> Balance:
        raw = await self._read("balance", lambda: self._account.get_balances(self._session))
        result = mapping.balance(raw)
        self._apply_balance(result, publish=True)
        return result

    async def positions(self) -> list[BrokerPosition]:
        raw = await self._read("positions", lambda: self._account.get_positions(self._session))
        return [mapping.position(p) for p in raw]

    async def live_orders(self) -> list[OrderSnapshot]:
        raw = await self._read("live orders",
                               lambda: self._account.get_live_orders(self._session))
        return self._snapshots(raw)

    @staticmethod
    def _snapshots(raw: Iterable[Any]) -> list[OrderSnapshot]:
        out = []
        for order in raw:
            try:
                out.append(mapping.order_snapshot(order))
            except BrokerPayloadError as exc:
                log.error("%s (skipped)", exc)
        return out

    async def get_order(self, order_id: str) -> OrderSnapshot | None:
        number = _order_number(order_id)
        try:
            raw = await self._call("get order",
                                   lambda: self._account.get_order(self._session, number),
                                   idempotent=True)
        except _CallFailed as exc:
            if exc.failure.kind is FailureKind.REJECTED:
                return None  # 404 record_not_found and other definitive "no such order"
            raise BrokerUnavailable(f"get order {order_id} failed: "
                                    f"{exc.failure.reason}") from None
        return mapping.order_snapshot(raw)

    async def find_order(self, external_id: str) -> OrderSnapshot | None:
        if not external_id:
            raise ValueError("external_id: must not be empty")
        matches = [o for o in await self.live_orders() if o.external_id == external_id]
        if not matches:
            today = self._clock.today()
            raw = await self._read("order history", lambda: self._account.get_order_history(
                self._session, per_page=200, page_offset=None, start_date=today))
            matches = [o for o in self._snapshots(raw) if o.external_id == external_id]
        if not matches:
            return None
        return max(matches, key=lambda o: int(o.order_id) if o.order_id.isdigit() else 0)

    # ------------------------------------------------------------------ market data
    async def market_metrics(self, symbols: Iterable[str]) -> dict[str, UnderlyingInfo]:
        from tastytrade.market_data import get_market_data_by_type
        from tastytrade.metrics import get_market_metrics

        wanted = list(dict.fromkeys(s.strip().upper() for s in symbols if s and s.strip()))
        out: dict[str, UnderlyingInfo] = {}
        for i in range(0, len(wanted), 100):
            chunk = wanted[i:i + 100]
            metrics = await self._read("market metrics",
                                       lambda c=chunk: get_market_metrics(self._session, c))
            data = await self._read("market data", lambda c=chunk: get_market_data_by_type(
                self._session, equities=c))
            prices = {d.symbol: mapping.market_price(d) for d in data}
            for metric in metrics:
                price = prices.get(metric.symbol)
                if price is None:
                    log.warning("no price for %s; left out of market metrics", metric.symbol)
                    continue
                try:
                    out[metric.symbol] = mapping.underlying_info(metric, price)
                except BrokerPayloadError as exc:
                    log.error("%s (skipped)", exc)
        return out

    async def _nested_chain(self, symbol: str) -> tuple[str, Any]:
        """The SDK's nested chain for ``symbol``, fetched at most once a minute.

        A scan reads the listing (:meth:`expirations`) and then the chain for the same symbol;
        the listing changes a few times a day at most, so both share one request.
        """
        from tastytrade.instruments import NestedOptionChain

        if not symbol or not symbol.strip():
            raise ValueError("symbol: must not be empty")
        symbol = symbol.strip().upper()
        cached = self._nested.get(symbol)
        if cached is not None and time.monotonic() - cached[0] < NESTED_CHAIN_TTL_S:
            return symbol, cached[1]
        nested = await self._read("option chain",
                                  lambda: NestedOptionChain.get(self._session, symbol))
        self._nested[symbol] = (time.monotonic(), nested)
        return symbol, nested

    async def expirations(self, symbol: str) -> list[Expiration]:
        symbol, nested = await self._nested_chain(symbol)
        return mapping.expirations(nested, symbol, self._clock.today())

    async def option_chain(self, symbol: str, min_dte: int = 0, max_dte: int = 400) -> OptionChain:
        if min_dte < 0 or max_dte < min_dte:
            raise ValueError(f"min_dte/max_dte: need 0 <= min_dte <= max_dte, got "
                             f"{min_dte}, {max_dte}")
        symbol, nested = await self._nested_chain(symbol)
        info = (await self.market_metrics([symbol])).get(symbol)
        if info is None:
            raise BrokerUnavailable(f"option chain {symbol}: no underlying price available")
        chain = mapping.option_chain(nested, info, self._clock.today(), min_dte, max_dte,
                                     self.quotes, self.greeks, self._clock.now())
        # Greeks exist only on the DXLink stream: stream the strikes near the money in the
        # window (not the whole chain) and give the first events a moment to arrive.
        wanted = _near_money(chain, CHAIN_STREAM_BAND)
        missing = [sym for sym in wanted if sym not in self.greeks or sym not in self.quotes]
        if missing and self._market is not None and self.chain_wait_s > 0:
            await self.subscribe(missing)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.chain_wait_s
            while loop.time() < deadline:
                have = sum(1 for sym in missing if sym in self.greeks and sym in self.quotes)
                if have >= CHAIN_READY_SHARE * len(missing):
                    break
                await asyncio.sleep(0.05)
            chain = mapping.option_chain(nested, info, self._clock.today(), min_dte, max_dte,
                                         self.quotes, self.greeks, self._clock.now())
        return chain

    async def subscribe(self, symbols: Iterable[str]) -> None:
        if self._market is None:
            raise TastytradeAdapterError("subscribe: not connected (call connect() first)")
        await self._market.add(s for s in symbols if s)

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        if self._market is not None:
            await self._market.remove(symbols)

    # ------------------------------------------------------------------ orders
    async def dry_run(self, order: OrderRequest) -> DryRunResult:
        sdk_order = mapping.request_order(order)
        try:
            response = await self._call(
                "dry run", lambda: self._account.place_order(self._session, sdk_order,
                                                             dry_run=True), idempotent=True)
        except _CallFailed as exc:
            if exc.failure.kind is FailureKind.REJECTED:
                return DryRunResult(buying_power_effect=Decimal("0"), fees=Decimal("0"),
                                    errors=(exc.failure.reason,))
            raise BrokerUnavailable(f"dry run failed: {exc.failure.reason}") from None
        return mapping.dry_run_result(response)

    async def place(self, order: OrderRequest) -> CommandResult:
        sdk_order = mapping.request_order(order)
        try:
            response = await self._call(
                "place", lambda: self._account.place_order(self._session, sdk_order,
                                                           dry_run=False), idempotent=False)
            snapshot = mapping.order_snapshot(response.order)
        except _CallFailed as exc:
            return _failed(exc.failure)
        except BrokerPayloadError as exc:
            return CommandResult(CommandOutcome.UNKNOWN, None, f"unparsable response: {exc}")
        self._apply_order(snapshot, publish=True)
        if snapshot.status.value == "REJECTED":
            return CommandResult(CommandOutcome.REJECTED, snapshot,
                                 snapshot.reject_reason or "rejected by tastytrade")
        return CommandResult(CommandOutcome.ACCEPTED, snapshot)

    async def replace(self, order_id: str, price: Decimal) -> CommandResult:
        number = _order_number(order_id)
        if price == 0:
            raise ValueError("price: must not be zero (credit positive, debit negative)")
        try:
            current = await self.get_order(order_id)
        except BrokerUnavailable as exc:
            return CommandResult(CommandOutcome.REJECTED, None, f"replace not sent: {exc}")
        if current is None:
            return CommandResult(CommandOutcome.REJECTED, None, f"order {order_id} not found")
        if current.status.is_terminal:
            return CommandResult(CommandOutcome.REJECTED, current,
                                 f"order {order_id} is {current.status.value}")
        sdk_order = mapping.limit_order(current.legs, price, current.external_id,
                                        current.source or "tastydesk")
        try:
            raw = await self._call(
                "replace", lambda: self._account.replace_order(self._session, number, sdk_order),
                idempotent=False)
            snapshot = mapping.order_snapshot(raw)
        except _CallFailed as exc:
            if exc.failure.kind is FailureKind.REJECTED:
                return CommandResult(CommandOutcome.REJECTED, current, exc.failure.reason)
            return _failed(exc.failure)
        except BrokerPayloadError as exc:
            return CommandResult(CommandOutcome.UNKNOWN, None, f"unparsable response: {exc}")
        self._apply_order(snapshot, publish=True)
        return CommandResult(CommandOutcome.ACCEPTED, snapshot)

    async def cancel(self, order_id: str) -> CommandResult:
        number = _order_number(order_id)
        try:
            await self._call("cancel", lambda: self._account.delete_order(self._session, number),
                             idempotent=False)
        except _CallFailed as exc:
            if exc.failure.kind is not FailureKind.REJECTED:
                return _failed(exc.failure)
            current = await self._quiet_get(order_id)
            return CommandResult(CommandOutcome.REJECTED, current, exc.failure.reason)
        snapshot = await self._quiet_get(order_id)
        if snapshot is not None:
            self._apply_order(snapshot, publish=True)
        return CommandResult(CommandOutcome.ACCEPTED, snapshot)

    async def _quiet_get(self, order_id: str) -> OrderSnapshot | None:
        try:
            return await self.get_order(order_id)
        except (BrokerUnavailable, BrokerPayloadError) as exc:
            log.warning("could not read order %s: %s", order_id, exc)
            return self._orders.get(order_id)

    # ------------------------------------------------------------------ state and events
    def _apply_order(self, snap: OrderSnapshot, *, publish: bool) -> None:
        old = self._orders.get(snap.order_id)
        if old is not None:
            if old.status.is_terminal and not snap.status.is_terminal:
                return  # a late event from before the terminal state
            if snap.filled_quantity < old.filled_quantity:
                return
            if old.updated_at and snap.updated_at and snap.updated_at < old.updated_at:
                return
        self._orders[snap.order_id] = snap
        new_fills = [f for f in snap.fills if f.fill_id not in self._fill_ids]
        self._fill_ids.update(f.fill_id for f in new_fills)
        if not publish:
            return
        for fill in new_fills:
            self._bus.publish(FillReceived(fill))
        if old is None or (old.status, old.filled_quantity, old.price, old.reject_reason) != \
                (snap.status, snap.filled_quantity, snap.price, snap.reject_reason):
            self._bus.publish(OrderUpdated(snap))

    def _apply_position(self, pos: BrokerPosition, *, publish: bool) -> None:
        old = self._positions.get(pos.symbol)
        if pos.quantity == 0:
            self._positions.pop(pos.symbol, None)
        else:
            self._positions[pos.symbol] = pos
        if publish and (old is None or (old.quantity, old.average_open_price, old.mark) !=
                        (pos.quantity, pos.average_open_price, pos.mark)):
            if old is None and pos.quantity == 0:
                return
            self._bus.publish(PositionUpdated(pos))

    def _apply_balance(self, bal: Balance, *, publish: bool) -> None:
        old = self._balance
        self._balance = bal
        if publish and (old is None or (old.net_liquidating_value, old.cash, old.buying_power,
                                        old.maintenance_requirement) !=
                        (bal.net_liquidating_value, bal.cash, bal.buying_power,
                         bal.maintenance_requirement)):
            self._bus.publish(BalanceUpdated(bal))

    async def _resync(self, *, publish: bool = True) -> None:
        """Bring cached orders, positions and balance up to the broker's REST state."""
        for snap in await self.live_orders():
            self._apply_order(snap, publish=publish)
        positions = await self.positions()
        present = {p.symbol for p in positions}
        for symbol, old in list(self._positions.items()):
            if symbol not in present:
                self._apply_position(
                    BrokerPosition(symbol=old.symbol, underlying=old.underlying, quantity=0,
                                   average_open_price=old.average_open_price, mark=old.mark,
                                   multiplier=old.multiplier, updated_at=self._clock.now()),
                    publish=publish)
        for pos in positions:
            self._apply_position(pos, publish=publish)
        raw = await self._read("balance", lambda: self._account.get_balances(self._session))
        self._apply_balance(mapping.balance(raw), publish=publish)

    async def _on_gap(self, stream: str) -> None:
        self._bus.publish(StreamGap(stream, self._clock.now()))
        await self._resync(publish=True)

    def _on_stream_health(self, stream: str, health: StreamHealth, detail: str) -> None:
        self._bus.publish(ConnectionChanged(stream, health, detail, self._clock.now()))

    def _on_stream_failure(self, exc: BaseException) -> bool:
        """True when the stream must stop retrying because the login is gone."""
        if self._login_detail is not None:
            return True
        text = describe(exc)
        if any(marker in text for marker in _LOGIN_MARKERS):
            self._lose_login(text)
            return True
        return False

    def _on_order_event(self, raw: Any) -> None:
        try:
            self._apply_order(mapping.order_snapshot(raw), publish=True)
        except BrokerPayloadError as exc:
            log.error("%s (skipped)", exc)

    def _on_balance_event(self, raw: Any) -> None:
        try:
            self._apply_balance(mapping.balance(raw), publish=True)
        except BrokerPayloadError as exc:
            log.error("%s (skipped)", exc)

    def _on_position_event(self, raw: Any) -> None:
        try:
            self._apply_position(mapping.position(raw), publish=True)
        except BrokerPayloadError as exc:
            log.error("%s (skipped)", exc)

    def _on_quote(self, event: Any) -> None:
        try:
            quote = mapping.quote(event, self._clock.now())
        except (ArithmeticError, TypeError, ValueError) as exc:
            log.debug("quote for %s skipped: %s", getattr(event, "event_symbol", "?"), exc)
            return
        self.quotes[quote.symbol] = quote
        self._bus.publish(QuoteReceived(quote))

    def _on_greeks(self, event: Any) -> None:
        try:
            greeks = mapping.greeks(event, self._clock.now())
        except (ArithmeticError, TypeError, ValueError) as exc:
            log.debug("greeks for %s skipped: %s", getattr(event, "event_symbol", "?"), exc)
            return
        self.greeks[greeks.symbol] = greeks
        self._bus.publish(GreeksReceived(greeks))


def _order_number(order_id: str) -> int:
    try:
        return int(str(order_id).strip())
    except ValueError:
        raise ValueError(f"order_id: tastytrade order ids are numeric, got {order_id!r}") from None


def _failed(failure: Failure) -> CommandResult:
    if failure.kind is FailureKind.REJECTED:
        return CommandResult(CommandOutcome.REJECTED, None, failure.reason)
    return CommandResult(CommandOutcome.UNKNOWN, None, failure.reason)


CHAIN_STREAM_BAND = 0.25  # stream strikes within +-25 % of spot when a chain is requested
CHAIN_READY_SHARE = 0.95  # share of streamed strikes with greeks before the chain is returned
NESTED_CHAIN_TTL_S = 60.0  # how long a fetched chain listing (expirations, strikes) is reused


def _near_money(chain: OptionChain, band: float) -> list[str]:
    spot = float(chain.underlying.price)
    out = []
    for exp in chain.expirations:
        for strike in exp.strikes:
            if abs(float(strike.price) - spot) <= band * spot:
                out.extend((strike.call.streamer_symbol, strike.put.streamer_symbol))
    return out
