"""The adapter's one SDK session: login, paced and classified REST calls, login loss.

Every REST call goes through :meth:`RestClient.call`, which paces requests, bounds them with an
explicit deadline, records the HTTP status the SDK would otherwise drop, and classifies failures
(definitive rejection, ambiguous, expired access token, dead grant). Reads are retried with
backoff; order commands never are: an ambiguous outcome is handed back for the caller to resolve
by lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from tastydesk import __version__
from tastydesk.engine.broker.tastytrade.errors import (
    BrokerUnavailable,
    Failure,
    FailureKind,
    LoginRequired,
    TastytradeAdapterError,
    classify,
)
from tastydesk.engine.broker.tastytrade.ratelimit import Backoff, RateLimiter
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.enums import StreamHealth
from tastydesk.engine.domain.events import ConnectionChanged

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_AGENT = f"tastydesk/{__version__}"
LOGIN_MARKERS = ("invalid_grant", "invalid_client", "unauthorized_client")


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


class CallFailed(Exception):
    """A classified failure of one SDK call (raised by :meth:`RestClient.call`)."""

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


@dataclass(frozen=True, slots=True)
class RestSettings:
    request_timeout: float = 10.0
    rate_limit: float = 10.0
    rate_burst: int = 10
    read_retries: int = 3


class RestClient:
    """Owns the SDK ``Session`` and the REST health; tells its owner when the login is lost."""

    def __init__(self, bus: EventBus, clock: Clock, *, provider_secret: str, refresh_token: str,
                 sandbox: bool, client_kwargs: dict[str, Any], settings: RestSettings,
                 backoff: Backoff, on_login_lost: Callable[[], None]) -> None:
        self._bus = bus
        self._clock = clock
        self._secret = provider_secret
        self._refresh = refresh_token
        self._sandbox = sandbox
        self._client_kwargs = dict(client_kwargs)
        self._timeout = settings.request_timeout
        self._limiter = RateLimiter(settings.rate_limit, settings.rate_burst)
        self._read_retries = settings.read_retries
        self._backoff = backoff
        self._on_login_lost = on_login_lost
        self._stack = contextlib.AsyncExitStack()
        self._session: Any = None
        self._login_detail: str | None = None
        self._health = StreamHealth.DISCONNECTED

    @property
    def session(self) -> Any:
        """The SDK session (None before :meth:`open` and after :meth:`close`)."""
        return self._session

    @property
    def login_detail(self) -> str | None:
        return self._login_detail

    async def open(self) -> Any:
        """Build the SDK session and log in (a forced token refresh)."""
        import httpx2
        from tastytrade import Session

        _install_sdk_log_redaction()
        self._login_detail = None
        self.set_health(StreamHealth.CONNECTING, "logging in")
        session = Session(self._secret, self._refresh, is_test=self._sandbox,
                          **self._client_kwargs)
        session._client.headers["User-Agent"] = USER_AGENT
        session._client.timeout = httpx2.Timeout(self._timeout)
        session._client.event_hooks = {"request": [], "response": [_record_response]}
        await self._stack.enter_async_context(session)
        self._session = session
        try:
            await self.call("login", session.refresh, idempotent=True)
        except BaseException:
            await self.close()
            raise
        return session

    async def close(self) -> None:
        await self._stack.aclose()
        self._stack = contextlib.AsyncExitStack()
        self._session = None

    def set_health(self, health: StreamHealth, detail: str) -> None:
        if health is not self._health or health is StreamHealth.DISCONNECTED:
            self._health = health
            self._bus.publish(ConnectionChanged("rest", health, detail, self._clock.now()))

    def lose_login(self, reason: str) -> LoginRequired:
        """Record that the grant is dead (once), stop streaming, and build the error to raise."""
        if self._login_detail is None:
            self._login_detail = reason
            log.error("tastytrade login required: %s", reason)
            self.set_health(StreamHealth.DISCONNECTED, f"login required: {reason}")
            self._on_login_lost()
        return LoginRequired(f"login required: {self._login_detail}")

    async def call(self, op: str, fn: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
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
                raise self.lose_login(failure.reason)
            if failure.kind is FailureKind.AUTH:
                if refreshed:
                    raise self.lose_login(f"access token refused after refresh: "
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
            raise CallFailed(op, failure)

    async def _force_refresh(self, op: str) -> None:
        exchange = _Exchange()
        token = _CURRENT.set(exchange)
        try:
            async with asyncio.timeout(self._timeout):
                await self._session.refresh(force=True)
        except Exception as exc:
            failure = classify(exc, exchange.status, exchange.path)
            if failure.kind is FailureKind.LOGIN:
                raise self.lose_login(failure.reason) from None
            raise CallFailed(op, failure) from None
        finally:
            _CURRENT.reset(token)

    async def read(self, op: str, fn: Callable[[], Awaitable[T]]) -> T:
        """An idempotent read: a definitive refusal or an outage becomes an adapter error."""
        try:
            return await self.call(op, fn, idempotent=True)
        except CallFailed as exc:
            if exc.failure.kind is FailureKind.REJECTED:
                raise TastytradeAdapterError(f"{op} refused by tastytrade: "
                                             f"{exc.failure.reason}") from None
            raise BrokerUnavailable(f"{op} failed: {exc.failure.reason}") from None
