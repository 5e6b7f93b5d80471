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
import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Protocol

from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.enums import (
    Actor,
    AlertCategory,
    AlertLevel,
    OptionType,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert, WorkflowChanged
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.lifecycle import (
    OPTION_MULTIPLIER,
    LifecycleEvent,
    LifecycleKind,
    LifecycleOccurred,
    is_option_symbol,
)
from tastydesk.engine.domain.money import CENT, ZERO
from tastydesk.engine.domain.records import PositionRecord
from tastydesk.engine.orders.resting import RestingExits
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
    async def shares_left(self, workflow_id: WorkflowId, reason: str) -> None:
        """An assignment or exercise left this workflow holding shares."""


class LifecycleBook:
    """Books lifecycle transactions; owns the link from a delivery to its assignment."""

    def __init__(self, *, broker: BrokerPort, store: AsyncStore, book: WorkflowBook,
                 positions: PositionBook, settlement: Settlement, followups: FollowUps,
                 resting: RestingExits, audit: AuditTrail, bus: EventBus, clock: Clock,
                 spawn: Callable[[Any, str], Any], counters: Counter[str]) -> None:
        self._broker = broker
        self._store = store
        self._book = book
        self._positions = positions
        self._settlement = settlement
        self._followups = followups
        self._resting = resting
        self._audit = audit
        self._bus = bus
        self._clock = clock
        self._spawn = spawn
        self._counters = counters
        self._serial = asyncio.Lock()  # transactions are booked one at a time, in arrival order
        # underlying -> [workflow, shares still to deliver] per assignment/exercise booked
        self._awaiting_delivery: dict[str, list[list[int]]] = defaultdict(list)
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
        """Book one transaction (once); end or follow up the workflows it touched.

        A transaction covering contracts (or shares) several workflows hold is split between
        them, each part booked under its own id (the first keeps the broker's)."""
        async with self._serial:
            if await self._store.lifecycle_booked(event.transaction_id):
                return False
            booked = False
            for workflow_id, part in await self._split(event):
                if workflow_id is None:
                    booked |= await self._book_unowned(part)
                    continue
                async with self._book.lock(workflow_id):
                    if not await self._store.book_lifecycle(part, workflow_id,
                                                            self._clock.now()):
                        continue
                    booked = True
                    self._count(part)
                    if part.kind in DELIVERING:
                        self._awaiting_delivery[part.underlying].append(
                            [workflow_id, abs(part.quantity) * OPTION_MULTIPLIER])
                    await self._settle(workflow_id, part)
        if booked and event.kind is not LifecycleKind.DIVIDEND:
            self._sweep_soon()
        return booked

    # ---- attribution
    async def _split(self, event: LifecycleEvent
                     ) -> list[tuple[WorkflowId | None, LifecycleEvent]]:
        """(workflow, part of the event) for every workflow the event touches; None: the part
        no workflow explains."""
        if event.kind is LifecycleKind.DIVIDEND:
            owned = [(p.workflow_id, abs(p.quantity)) for p in await self._holders(event.symbol)]
            total = sum(q for _, q in owned)
            return _parts(event, owned, total) if owned else [(None, event)]
        wanted = abs(event.quantity)
        if event.kind is LifecycleKind.SHARES_DELIVERED:
            claims: list[tuple[WorkflowId, int]] = []
            queue = self._awaiting_delivery.get(event.underlying, [])
            while queue and sum(q for _, q in claims) < wanted:
                wid, shares = queue[0]
                take = min(shares, wanted - sum(q for _, q in claims))
                claims.append((WorkflowId(wid), take))
                queue[0][1] -= take
                if queue[0][1] <= 0:
                    queue.pop(0)
            if not claims:
                owner = await self._delivery_owner(event)
                claims = [(owner, wanted)] if owner is not None else []
        else:
            # a removal closes holdings on the other side of its quantity
            holders = [p for p in await self._holders(event.symbol)
                       if (p.quantity > 0) != (event.quantity > 0)]
            claims, left = [], wanted
            for p in sorted(holders, key=lambda r: r.workflow_id):
                if left <= 0:
                    break
                take = min(left, abs(p.quantity))
                claims.append((p.workflow_id, take))
                left -= take
        return _parts(event, claims, wanted) if claims else [(None, event)]

    async def _holders(self, symbol: str) -> list[PositionRecord]:
        return [p for p in await self._store.positions(open_only=True)
                if p.symbol == symbol and p.quantity != 0]

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
            if p.quantity and (not is_option_symbol(p.symbol)
                               or parse_occ(p.symbol)[1] <= through):
                held[p.symbol].append(p)
        if not held:
            return 0
        broker = {p.symbol: p.quantity for p in await self._broker.positions()}
        booked = 0
        for symbol, holdings in sorted(held.items()):
            if broker.get(symbol, 0) != 0 or sum(p.quantity for p in holdings) != 0:
                continue  # the broker's own transactions settle it (or reconciliation reports)
            for p in holdings:
                booked += await self.book_event(await self._netted(symbol, p))
        return booked

    async def _netted(self, symbol: str, holding: PositionRecord) -> LifecycleEvent:
        """The internal settlement of one workflow's side of a netted holding: an option at its
        intrinsic value, shares crossed at the underlying's price."""
        option = is_option_symbol(symbol)
        root = parse_occ(symbol)[0] if option else symbol
        info = (await self._broker.market_metrics([root])).get(root)
        if option:
            _, _expiry, option_type, strike = parse_occ(symbol)
            spot = info.price if info is not None else strike
            price = max(ZERO, spot - strike if option_type is OptionType.CALL
                        else strike - spot).quantize(CENT)
            kind = LifecycleKind.CASH_SETTLED if price else LifecycleKind.EXPIRED
            what = "Expired"
        else:
            price = (info.price if info is not None else holding.avg_open_price).quantize(CENT)
            kind, what = LifecycleKind.SHARES_DELIVERED, "Crossed"
        multiplier = OPTION_MULTIPLIER if option else 1
        return LifecycleEvent(
            transaction_id=f"netted:{symbol.replace(' ', '')}:{holding.workflow_id}:"
                           f"{holding.id}",
            kind=kind, symbol=symbol, underlying=root, quantity=-holding.quantity, price=price,
            value=price * multiplier * holding.quantity, time=self._clock.now(),
            description=f"{what} against another workflow's opposite position at {price} "
                        f"(netted at the broker)")

    async def _delivery_owner(self, event: LifecycleEvent) -> WorkflowId | None:
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
        held = await self._holders(event.symbol)
        return held[0].workflow_id if held else None

    async def _book_unowned(self, event: LifecycleEvent) -> bool:
        new = await self._store.book_lifecycle(event, None, self._clock.now())
        if new:
            self._count(event)
            await self._audit.audit("engine", "lifecycle",
                                    f"{event.transaction_id} {event.kind.value} {event.symbol} "
                                    f"{event.quantity}: no position of the app")
        return new

    # ---- what a booking means for the workflow
    async def _settle(self, workflow_id: WorkflowId, event: LifecycleEvent) -> None:
        wf = self._book.get(workflow_id)
        detail = event.description or f"{event.kind.value} {event.symbol}"
        self._alert(AlertLevel.WARNING if event.kind in DELIVERING else AlertLevel.INFO,
                    f"{event.kind.value.replace('_', ' ').capitalize()}: {wf.symbol}",
                    f"{detail} ({event.quantity:+d} {event.symbol}, cash {event.value})",
                    workflow_id)
        if event.kind is LifecycleKind.DIVIDEND or wf.state not in ENDABLE:
            return
        # A resting profit-target order covers contracts that are gone now: withdrawn before
        # anything else closes the position (never two closing orders over the same contracts).
        await self._resting.withdraw(workflow_id, f"the position changed at the broker: {detail}")
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
            what = (f"{event.quantity:+d} {event.symbol} delivered at {event.price}"
                    if event.kind is LifecycleKind.SHARES_DELIVERED
                    else event.description or f"{event.kind.value} {event.symbol}")
            if event.kind is LifecycleKind.SHARES_DELIVERED and \
                    self._book.state(workflow_id) is WorkflowState.MONITORING:
                # The timeline shows the assignment; the follow-up comes next.
                await self._book.transition(
                    workflow_id, Trigger.DELIVERED, Actor.ENGINE,
                    f"{await self._delivered_by(workflow_id)}: {what}",
                    payload={"transaction": event.transaction_id, "shares": event.quantity,
                             "price": str(event.price)})
            await self._followups.shares_left(workflow_id, what)
        else:  # options left (a leg of another expiry, say): rest an order for them, if wanted
            await self._resting.place(workflow_id)

    async def _delivered_by(self, workflow_id: WorkflowId) -> str:
        """``assigned`` or ``exercised``: the latest delivering transaction of the workflow."""
        kinds = [b.event.kind for b in await self._store.lifecycle_bookings(workflow_id)
                 if b.event.kind in DELIVERING]
        return "exercised" if kinds and kinds[-1] is LifecycleKind.EXERCISED else "assigned"

    async def _outcome(self, workflow_id: WorkflowId) -> Trigger:
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

    def _alert(self, level: AlertLevel, title: str, message: str, workflow_id: WorkflowId) -> None:
        self._bus.publish(Alert(level, AlertCategory.FILL, title, message, self._clock.now(),
                                workflow_id))


def _parts(event: LifecycleEvent, claims: list[tuple[WorkflowId, int]],
           total: int) -> list[tuple[WorkflowId | None, LifecycleEvent]]:
    """``event`` divided by ``claims`` (workflow, size) out of ``total``; cash pro rata to the
    cent, the last part taking the rounding; what no claim covers is a part of its own."""
    sign = 1 if event.quantity >= 0 else -1
    covered = sum(size for _, size in claims)
    shares: list[tuple[WorkflowId | None, int]] = list(claims)
    if covered < total:
        shares.append((None, total - covered))
    parts: list[tuple[WorkflowId | None, LifecycleEvent]] = []
    paid = ZERO
    for i, (wid, size) in enumerate(shares):
        last = i == len(shares) - 1
        value = event.value - paid if last else (event.value * size / total).quantize(CENT)
        paid += value
        quantity = sign * size if event.quantity else 0
        tid = event.transaction_id if i == 0 else f"{event.transaction_id}/{i + 1}"
        parts.append((wid, dataclasses.replace(event, transaction_id=tid, quantity=quantity,
                                               value=value)))
    return parts
