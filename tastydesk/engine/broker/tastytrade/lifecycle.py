"""Expirations, exercises, assignments, share deliveries and dividends from tastytrade.

tastytrade reports them only in the transaction history: a ``Receive Deliver`` row per option
removed (sub-type ``Expiration``, ``Assignment``, ``Exercise``, ``Cash Settled …``), a
``Receive Deliver`` row for the shares delivered at the strike, a ``Money Movement`` /
``Dividend`` row per dividend. The account streamer only shows their effect (position updates),
so a position update (or a cash change, or a transaction notification) makes
:class:`LifecycleFeed` read the new transactions and publish each lifecycle one as
``LifecycleOccurred``; start-up reads those since the last one seen.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tastydesk.engine.broker.tastytrade.account import AccountBook
from tastydesk.engine.broker.tastytrade.errors import TastytradeAdapterError
from tastydesk.engine.broker.tastytrade.session import RestClient
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.account import BrokerPosition
from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.lifecycle import LifecycleEvent, LifecycleKind, LifecycleOccurred
from tastydesk.engine.tasks import TaskSupervisor

log = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
RECEIVE_DELIVER = "Receive Deliver"
MONEY_MOVEMENT = "Money Movement"
LIFECYCLE_TYPES = (RECEIVE_DELIVER, MONEY_MOVEMENT)
_REMOVALS = {
    "Expiration": LifecycleKind.EXPIRED,
    "Assignment": LifecycleKind.ASSIGNED,
    "Exercise": LifecycleKind.EXERCISED,
    "Cash Settled Assignment": LifecycleKind.CASH_SETTLED,
    "Cash Settled Exercise": LifecycleKind.CASH_SETTLED,
}
_DELIVERY_ACTIONS = {"Buy to Open": 1, "Buy to Close": 1, "Buy": 1,
                     "Sell to Open": -1, "Sell to Close": -1, "Sell": -1}
_DIVIDENDS = ("Dividend", "Special Dividend")
HISTORY_DAYS = 366  # how far back "all known" lifecycle transactions are read
LIVE_LOOKBACK_DAYS = 7  # the window a live check reads (new ids only are published)
CHECK_DELAY_S = 0.2  # position updates arrive in bursts: one read per burst


def _text(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def lifecycle_event(tx: Any, held: BrokerPosition | None = None) -> LifecycleEvent | None:
    """One SDK ``Transaction`` as a :class:`LifecycleEvent`, or None when it is not one.

    ``held`` is the position in the transaction's symbol as last known, used only to sign an
    expiration row that carries no action.
    """
    kind_text, sub = _text(tx.transaction_type), _text(tx.transaction_sub_type)
    symbol = tx.symbol or ""
    quantity = int(abs(Decimal(tx.quantity or 0)))
    action = _text(tx.action)
    kind: LifecycleKind | None = None
    sign = _DELIVERY_ACTIONS.get(action, 0)
    is_option = len(symbol) == 21
    if kind_text == RECEIVE_DELIVER and sub in ("Assignment", "Exercise") and not is_option:
        # shares delivered by an assignment or exercise, labelled with its sub-type
        kind = LifecycleKind.SHARES_DELIVERED
        if sign == 0:
            sign = 1 if Decimal(tx.value) < 0 else -1  # paid for shares: received them
    elif kind_text == RECEIVE_DELIVER and sub in _REMOVALS:
        kind = _REMOVALS[sub]
        if sign == 0:  # a removal without an action: assignments close shorts, exercises longs
            sign = {LifecycleKind.ASSIGNED: 1, LifecycleKind.EXERCISED: -1}.get(kind, 0)
            if sign == 0 and held is not None:
                sign = 1 if held.quantity < 0 else -1
    elif kind_text == RECEIVE_DELIVER and sub in _DELIVERY_ACTIONS and not is_option:
        kind = LifecycleKind.SHARES_DELIVERED
    elif sub in _DIVIDENDS and kind_text in LIFECYCLE_TYPES:
        kind, sign = LifecycleKind.DIVIDEND, 0
    if kind is None:
        return None
    value = Decimal(tx.value)
    price = abs(Decimal(tx.price)) if tx.price is not None else Decimal("0")
    if kind is LifecycleKind.DIVIDEND and price == 0 and quantity:
        price = abs(value) / quantity
    underlying = tx.underlying_symbol or (symbol[:6].strip() if len(symbol) == 21 else symbol)
    executed = tx.executed_at if tx.executed_at.tzinfo else tx.executed_at.replace(tzinfo=UTC)
    early = False
    if kind is LifecycleKind.ASSIGNED and is_option:
        try:
            expiry = parse_occ(symbol)[1]
        except ValueError:
            expiry = None
        early = expiry is not None and executed.astimezone(NEW_YORK).date() < expiry
    return LifecycleEvent(
        transaction_id=str(tx.id), kind=kind, symbol=symbol, underlying=underlying,
        quantity=sign * quantity, price=price, value=value, time=executed, early=early,
        description=str(tx.description or ""))


class LifecycleFeed:
    """Reads lifecycle transactions; publishes the new ones a position update points at."""

    def __init__(self, rest: RestClient, book: AccountBook, bus: EventBus, clock: Clock) -> None:
        self._rest = rest
        self._book = book
        self._bus = bus
        self._clock = clock
        self._known: set[str] = set()  # transaction ids returned or published already
        self._tasks = TaskSupervisor()
        self._pending: asyncio.Task[Any] | None = None
        self._again = False  # a signal arrived since the running check started its read
        self._baseline = False  # the transactions present at connect are known
        book.on_position_change(lambda _pos: self.check_soon())
        book.on_cash_change(lambda _bal: self.check_soon())  # a dividend moves cash only

    async def start(self) -> None:
        """Remember what exists at connect: only later transactions are published live (the
        earlier ones are read by start-up reconciliation through :meth:`events`). When the
        read fails, the first successful live check takes the baseline instead."""
        try:
            self._known.update(tx_id for tx_id, _ in await self._recent())
        except TastytradeAdapterError as exc:
            log.warning("transaction history not read at connect (%s)", exc)
            return
        self._baseline = True

    async def stop(self) -> None:
        await self._tasks.cancel_all()
        self._pending = None

    async def events(self, since: datetime | None) -> list[LifecycleEvent]:
        """Lifecycle transactions executed after ``since`` (the past year when None)."""
        today = self._clock.today()
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        start = since.astimezone(NEW_YORK).date() - timedelta(days=1) if since is not None \
            else today - timedelta(days=HISTORY_DAYS)
        out = [e for _, e in await self._read(start)
               if e is not None and (since is None or e.time > since)]
        self._known.update(e.transaction_id for e in out)
        return out

    def check_soon(self) -> None:
        """Schedule one read of new transactions (coalescing a burst of position updates; a
        signal arriving while a read is under way makes it read once more)."""
        self._again = True
        if self._pending is not None and not self._pending.done():
            return
        try:
            self._pending = self._tasks.spawn(self._check(), "tastytrade-lifecycle-check")
        except RuntimeError:  # no running loop (a synchronous caller outside the app)
            log.debug("lifecycle check not scheduled: no running event loop")

    async def _check(self) -> None:
        while self._again:
            await asyncio.sleep(CHECK_DELAY_S)
            self._again = False
            try:
                found = await self._recent()
            except TastytradeAdapterError as exc:
                log.warning("lifecycle check failed (%s); the next position update retries",
                            exc)
                return
            self._publish_new(found)

    def _publish_new(self, found: list[tuple[str, LifecycleEvent | None]]) -> None:
        if not self._baseline:
            self._known.update(tx_id for tx_id, _ in found)
            self._baseline = True
            return
        for tx_id, event in found:
            if tx_id in self._known:
                continue
            self._known.add(tx_id)
            if event is not None:
                log.info("tastytrade %s: %s %+d %s", event.kind.value, event.symbol,
                         event.quantity, event.description)
                self._bus.publish(LifecycleOccurred(event))

    async def _recent(self) -> list[tuple[str, LifecycleEvent | None]]:
        return await self._read(self._clock.today() - timedelta(days=LIVE_LOOKBACK_DAYS))

    async def _read(self, start: date) -> list[tuple[str, LifecycleEvent | None]]:
        """Every lifecycle-type transaction since ``start`` with its event (None when the
        transaction is of those types but no lifecycle event, e.g. a deposit), oldest first."""
        account, session = self._book.account, self._rest.session
        raw = await self._rest.read("transactions", lambda: account.get_history(
            session, per_page=250, page_offset=None, sort="Asc", start_date=start,
            types=list(LIFECYCLE_TYPES)))
        out: list[tuple[str, LifecycleEvent | None]] = []
        for tx in sorted(raw, key=lambda t: (t.executed_at, t.id)):
            try:
                event = lifecycle_event(tx, self._book.held(tx.symbol or ""))
            except (ArithmeticError, TypeError, ValueError) as exc:
                log.error("invalid transaction %s from tastytrade: %s (skipped)",
                          getattr(tx, "id", "?"), exc)
                continue
            out.append((str(tx.id), event))
        return out
