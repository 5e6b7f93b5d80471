"""The lifecycle component: books the broker's expirations, assignments, exercises, share
deliveries and dividends against the workflows whose positions they touch.

Both brokers report them the same way (:mod:`tastydesk.engine.domain.lifecycle`): live as
``LifecycleOccurred`` on the bus, and after a restart through ``BrokerPort.lifecycle_events``
since the latest one booked. Each transaction is booked once (the store keeps its id in the same
transaction that moves the position), so reading one twice changes nothing.

What a booking does to the workflow:

* an option removed (expired, assigned, exercised, cash-settled) leaves the position at its
  settlement price: 0 for a removal, the intrinsic value for a cash settlement;
* delivered shares join the position of the workflow whose option was assigned or exercised, at
  the strike, as a leg with multiplier 1;
* a dividend is cash for the workflow holding the shares;
* when no leg is left, the workflow ends with its own outcome (``expired`` or ``assigned``) and
  the cycle is journalled with that closing rule; when shares are left, the follow-up the
  strategy chose (``after_assignment``) is proposed.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Protocol

from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.enums import (
    AlertCategory,
    AlertLevel,
    OptionType,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert, WorkflowChanged
from tastydesk.engine.domain.lifecycle import (
    OPTION_MULTIPLIER,
    LifecycleEvent,
    LifecycleKind,
    LifecycleOccurred,
    is_option_symbol,
)
from tastydesk.engine.domain.money import CENT, ZERO
from tastydesk.engine.domain.records import PositionRecord
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.positions.book import PositionBook
from tastydesk.engine.positions.settlement import Settlement
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.workflow.book import WorkflowBook

#: Workflows whose position a lifecycle transaction may end.
ENDABLE = frozenset({WorkflowState.MONITORING, WorkflowState.CLOSING, WorkflowState.ERROR})
DELIVERING = frozenset({LifecycleKind.ASSIGNED, LifecycleKind.EXERCISED})
#: Start-up reads a little before the latest booked transaction: ids already booked are skipped,
#: and a broker that stamps several transactions with one time loses none.
OVERLAP = timedelta(days=1)


class FollowUps(Protocol):
    async def shares_left(self, workflow_id: int, reason: str) -> None:
        """An assignment or exercise left this workflow holding shares."""


class LifecycleBook:
    """Books lifecycle transactions; owns the link from a delivery to its assignment."""

    def __init__(self, *, broker: BrokerPort, store: AsyncStore, book: WorkflowBook,
                 positions: PositionBook, settlement: Settlement, followups: FollowUps,
                 audit: AuditTrail, bus: EventBus, clock: Clock,
                 spawn: Callable[[Any, str], Any], counters: Counter[str]) -> None:
        self._broker = broker
        self._store = store
        self._book = book
        self._positions = positions
        self._settlement = settlement
        self._followups = followups
        self._audit = audit
        self._bus = bus
        self._clock = clock
        self._spawn = spawn
        self._counters = counters
        self._serial = asyncio.Lock()  # transactions are booked one at a time, in arrival order
        # underlying -> workflows whose assignment/exercise still awaits its share delivery
        self._awaiting_delivery: dict[str, list[int]] = defaultdict(list)
        self._sweep_pending = False

    def subscribe(self) -> list[Any]:
        return [self._bus.subscribe(LifecycleOccurred, self._on_event),
                self._bus.subscribe(WorkflowChanged, self._on_workflow)]

    # ---- entry points
    def _on_event(self, event: LifecycleOccurred) -> None:
        self._spawn(self.book_event(event.event), f"lifecycle-{event.event.transaction_id}")

    def _on_workflow(self, event: WorkflowChanged) -> None:
        if event.state is WorkflowState.MONITORING and event.previous is not WorkflowState.MONITORING:
            self._spawn(self._refresh_dividend(event.symbol), f"dividend-{event.symbol}")

    async def catch_up(self) -> int:
        """Book what the broker reports since the latest booked transaction (start-up, before
        positions are compared); returns how many were new."""
        last = await self._store.last_lifecycle_time()
        events = await self._broker.lifecycle_events(None if last is None else last - OVERLAP)
        booked = 0
        for event in sorted(events, key=lambda e: e.time):
            booked += await self.book_event(event)
        booked += await self._settle_netted(self._clock.today() - timedelta(days=1))
        if booked:
            await self._audit.audit("engine", "lifecycle",
                                    f"{booked} transaction(s) booked at start-up")
        return booked

    async def book_event(self, event: LifecycleEvent) -> bool:
        """Book one transaction (once); end or follow up the workflow it touched."""
        async with self._serial:
            workflow_id = await self._owner(event)
            if workflow_id is None:
                return await self._book_unowned(event)
            async with self._book.lock(workflow_id):
                new = await self._store.book_lifecycle(event, workflow_id, self._clock.now())
                if not new:
                    return False
                self._count(event)
                if event.kind in DELIVERING:
                    self._awaiting_delivery[event.underlying].append(workflow_id)
                await self._settle(workflow_id, event)
        if event.kind is LifecycleKind.EXPIRED or (event.kind in DELIVERING and not event.early):
            self._sweep_soon()
        return True

    # ---- legs netted across workflows
    def _sweep_soon(self) -> None:
        """After an expiration's transactions: settle the expired legs the broker never held."""
        if not self._sweep_pending:
            self._sweep_pending = True
            self._spawn(self._sweep(), "lifecycle-netted")

    async def _sweep(self) -> None:
        self._sweep_pending = False
        await self._settle_netted(self._clock.today())

    async def _settle_netted(self, through: date) -> int:
        """Expired option legs that workflows hold against each other (one short, another long
        the same contract) net to nothing at the broker, so no transaction ever removes them.
        Each holding is settled internally at the underlying's intrinsic value: the amounts
        cancel out, as the broker's cash did."""
        held: dict[str, list[PositionRecord]] = defaultdict(list)
        for p in await self._store.positions(open_only=True):
            if p.quantity and is_option_symbol(p.symbol) and parse_occ(p.symbol)[1] <= through:
                held[p.symbol].append(p)
        if not held:
            return 0
        broker = {p.symbol: p.quantity for p in await self._broker.positions()}
        booked = 0
        for symbol, holdings in sorted(held.items()):
            if broker.get(symbol, 0) != 0 or sum(p.quantity for p in holdings) != 0:
                continue  # the broker's own transactions settle it (or reconciliation reports)
            root, _expiry, option_type, strike = parse_occ(symbol)
            info = (await self._broker.market_metrics([root])).get(root)
            spot = info.price if info is not None else strike
            intrinsic = max(ZERO, spot - strike if option_type is OptionType.CALL
                            else strike - spot).quantize(CENT)
            kind = LifecycleKind.CASH_SETTLED if intrinsic else LifecycleKind.EXPIRED
            for p in holdings:
                event = LifecycleEvent(
                    transaction_id=f"netted:{symbol.replace(' ', '')}:{p.workflow_id}",
                    kind=kind, symbol=symbol, underlying=root, quantity=-p.quantity,
                    price=intrinsic, value=intrinsic * OPTION_MULTIPLIER * p.quantity,
                    time=self._clock.now(),
                    description=f"Expired against another workflow's opposite leg at "
                                f"{intrinsic} (netted at the broker)")
                booked += await self.book_event(event)
        return booked

    # ---- attribution
    async def _owner(self, event: LifecycleEvent) -> int | None:
        """The workflow whose position ``event`` changes, or None."""
        if event.kind is LifecycleKind.SHARES_DELIVERED:
            waiting = self._awaiting_delivery.get(event.underlying)
            if waiting:
                return waiting.pop(0)
            return await self._delivery_owner(event)
        held = [p for p in await self._store.positions(open_only=True)
                if p.symbol == event.symbol and p.quantity != 0]
        if event.quantity:
            # a removal closes the holding: the workflow holding the opposite side
            held = [p for p in held if (p.quantity > 0) != (event.quantity > 0)] or held
        return held[0].workflow_id if held else None

    async def _delivery_owner(self, event: LifecycleEvent) -> int | None:
        """After a restart between an assignment and its delivery: the workflow of the latest
        assignment or exercise on the underlying, else the workflow already holding its shares."""
        for booking in reversed(await self._store.lifecycle_bookings()):
            past = booking.event
            if past.underlying == event.underlying and past.kind in DELIVERING \
                    and booking.workflow_id is not None:
                delivered = sum(1 for b in await self._store.lifecycle_bookings(booking.workflow_id)
                                if b.event.kind is LifecycleKind.SHARES_DELIVERED
                                and b.booked_at >= booking.booked_at)
                if not delivered:
                    return booking.workflow_id
                break
        held = [p for p in await self._store.positions(open_only=True)
                if p.symbol == event.symbol and p.quantity != 0]
        return held[0].workflow_id if held else None

    async def _book_unowned(self, event: LifecycleEvent) -> bool:
        if event.kind is LifecycleKind.DIVIDEND:
            holders = [p for p in await self._store.positions(open_only=True)
                       if p.symbol == event.symbol and p.quantity != 0]
            if holders:
                wid = holders[0].workflow_id
                async with self._book.lock(wid):
                    new = await self._store.book_lifecycle(event, wid, self._clock.now())
                if new:
                    self._count(event)
                    self._alert(AlertLevel.INFO, f"Dividend: {event.symbol}",
                                f"{event.description or event.kind.value}: {event.value}", wid)
                return new
        new = await self._store.book_lifecycle(event, None, self._clock.now())
        if new:
            self._count(event)
            await self._audit.audit("engine", "lifecycle",
                                    f"{event.transaction_id} {event.kind.value} {event.symbol} "
                                    f"{event.quantity}: no position of the app")
        return new

    # ---- what a booking means for the workflow
    async def _settle(self, workflow_id: int, event: LifecycleEvent) -> None:
        wf = self._book.get(workflow_id)
        detail = event.description or f"{event.kind.value} {event.symbol}"
        self._alert(AlertLevel.WARNING if event.kind in DELIVERING else AlertLevel.INFO,
                    f"{event.kind.value.replace('_', ' ').capitalize()}: {wf.symbol}",
                    f"{detail} ({event.quantity:+d} {event.symbol}, cash {event.value})",
                    workflow_id)
        if event.kind is LifecycleKind.DIVIDEND or wf.state not in ENDABLE:
            return
        if event.kind in DELIVERING and is_option_symbol(event.symbol):
            return  # the delivery follows: settle once the shares are booked
        await self._positions.load(workflow_id)
        if self._positions.get(workflow_id) is None:
            outcome = await self._outcome(workflow_id)
            await self._settlement.finish_closed(
                workflow_id, f"{outcome.value} at the broker: {detail}", outcome.value,
                trigger=outcome)
        elif event.kind is LifecycleKind.SHARES_DELIVERED or (
                (mon := self._positions.get(workflow_id)) is not None and mon.holds_shares):
            await self._followups.shares_left(
                workflow_id, event.description or
                f"{event.quantity:+d} {event.symbol} delivered at {event.price}")

    async def _outcome(self, workflow_id: int) -> Trigger:
        """``assigned`` when this cycle saw an assignment or exercise, else ``expired``."""
        cycle = await self._settlement.cycle_start(workflow_id)
        kinds = {b.event.kind for b in await self._store.lifecycle_bookings(workflow_id)
                 if b.booked_at >= cycle}
        return Trigger.ASSIGNED if kinds & DELIVERING else Trigger.EXPIRED

    async def _refresh_dividend(self, symbol: str) -> None:
        info = (await self._broker.market_metrics([symbol])).get(symbol)
        if info is None:
            return
        ex_date, amount = info.ex_dividend_date, info.dividend_amount
        self._positions.set_dividend(
            symbol, None if ex_date is None or not amount else (ex_date, amount))

    def _count(self, event: LifecycleEvent) -> None:
        kind = event.kind.value
        if event.kind is LifecycleKind.ASSIGNED and event.early:
            kind = "early_assigned"
        self._counters[f"lifecycle:{kind}"] += 1

    def _alert(self, level: AlertLevel, title: str, message: str, workflow_id: int) -> None:
        self._bus.publish(Alert(level, AlertCategory.FILL, title, message, self._clock.now(),
                                workflow_id))
