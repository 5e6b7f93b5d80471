"""What an order's end means for its workflow: a fill opens or closes a position, a failure
sends the workflow back, and a closed cycle is written to the journal.

Called by the order manager under the workflow's lock (it implements ``OrderOutcomes``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import NEW_YORK, Clock, MarketCalendar
from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.enums import (
    Actor,
    AlertCategory,
    AlertLevel,
    OrderAction,
    OrderPurpose,
    OrderStatus,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert, JournalRecorded
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.lifecycle import LifecycleBooking, multiplier_for
from tastydesk.engine.domain.money import ZERO
from tastydesk.engine.domain.orders import OrderSnapshot
from tastydesk.engine.domain.records import FillRecord, OrderRecord, TransitionRecord
from tastydesk.engine.orders.resting import RULE, WITHDRAWN, is_resting
from tastydesk.engine.positions.book import PositionBook
from tastydesk.engine.positions.chain import order_fees
from tastydesk.engine.positions.rolls import describe_legs
from tastydesk.engine.positions.session_gate import next_session_open
from tastydesk.engine.settings import Settings
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.workflow.book import WorkflowBook
from tastydesk.engine.workflow.common import CLOSE_RETRY_MINUTES

# A broker's rejection of a closing order because the position is not (or no longer) held.
#: The rule name a close split into several orders carries on the CLOSE of each later order.
CONTINUATION = "close"
#: How many of a workflow's latest transitions are searched first for its exit's CLOSE.
RECENT_TRANSITIONS = 20
_POSITION_MISSING = re.compile(r"exceeds the (long|short) position|no (such )?position|"
                               r"position (is )?not (found|held|open)|insufficient position",
                               re.IGNORECASE)


def position_missing(reason: str) -> bool:
    return bool(_POSITION_MISSING.search(reason or ""))


class Settlement:
    def __init__(self, *, book: WorkflowBook, positions: PositionBook, store: AsyncStore,
                 settings: Settings, bus: EventBus, clock: Clock,
                 spawn: Callable[[Any, str], Any], counters: Counter[str],
                 calendar: MarketCalendar,
                 continue_exit: Callable[[WorkflowId, OrderPurpose], Awaitable[bool]],
                 requeue_exit: Callable[[WorkflowId, OrderPurpose, int, str, datetime], None],
                 rest_exit: Callable[[WorkflowId], Awaitable[Any]] | None = None) -> None:
        self._book = book
        self._rest_exit = rest_exit  # (re-)places a strategy's resting profit-target order
        self._calendar = calendar
        self._requeue_exit = requeue_exit
        self._continue_exit = continue_exit
        self._positions = positions
        self._store = store
        self._settings = settings
        self._bus = bus
        self._clock = clock
        self._spawn = spawn
        self._counters = counters

    def _alert(self, level: AlertLevel, category: AlertCategory, title: str, message: str,
               workflow_id: WorkflowId) -> None:
        self._bus.publish(Alert(level, category, title, message, self._clock.now(), workflow_id))

    async def _rest(self, workflow_id: WorkflowId) -> None:
        if self._rest_exit is not None:
            await self._rest_exit(workflow_id)

    async def order_ended(self, record: OrderRecord, reason: str) -> None:
        wid = record.workflow_id
        state = self._book.state(wid)
        if is_resting(record):  # nothing filled: the workflow is not changed by it
            if not reason.startswith(WITHDRAWN):  # withdrawn by the app: its exit follows
                self._alert(AlertLevel.WARNING, AlertCategory.RULE,
                            f"Resting profit-target order ended: {record.underlying}",
                            f"{reason}. The position stays monitored by its rules; no resting "
                            f"order is placed again until the position changes.", wid)
            return
        self._alert(AlertLevel.WARNING, AlertCategory.ERROR, f"Order ended: {record.underlying}",
                    reason, wid)
        expired = record.status is OrderStatus.EXPIRED
        if record.purpose is OrderPurpose.OPEN and state is WorkflowState.EXECUTING:
            # The attempt ends (a DAY entry that expired too): the proposal is stale by the next
            # session, so the symbol scans again after the cool-down.
            cooldown = self._clock.now() + timedelta(
                minutes=self._settings.config.scan_interval_minutes)
            why = "day order expired at the close: the entry attempt ends" if expired else reason
            await self._book.transition(wid, Trigger.EXEC_FAILED, Actor.ENGINE, why,
                                        cooldown_until=cooldown)
        elif state is WorkflowState.CLOSING and expired and \
                record.purpose is not OrderPurpose.PARTIAL_CLOSE:
            await self._expired_exit(record, record.quantity)
        elif state is WorkflowState.CLOSING:
            await self._book.transition(wid, Trigger.CLOSE_FAILED, Actor.ENGINE, reason)
            await self._positions.load(wid)  # fills before the end may have reduced it
            self._positions.close_failed(
                wid, self._clock.now() + timedelta(minutes=CLOSE_RETRY_MINUTES))
            await self._rest(wid)  # the exit failed: profit is taken at the broker again
            if position_missing(reason):
                # Closing again cannot succeed: stop the rules, tell the trader.
                await self._positions.set_rules_paused(wid, True)
                self._alert(AlertLevel.ERROR, AlertCategory.ERROR,
                            f"Position not at the broker: {record.underlying}",
                            f"{reason}. Rules paused, no close is retried; reconcile with the "
                            f"broker (restart) and decide.", wid)

    async def _expired_exit(self, record: OrderRecord, units: int) -> None:
        """A closing or roll order died at the close: the exit goes out again at the next open
        (it was decided; the close only interrupted it), and the timeline says so."""
        wid = record.workflow_id
        started = self._book.last_reason(wid)
        rule = started.split(":", 1)[0].removeprefix("rule ") if started.startswith("rule ") \
            else ""
        # The open after the session the order died in; later if that has passed already (the
        # news arrived late, after a restart): then at once while the market is open.
        opening = next_session_open(self._calendar, record.created_at)
        if opening < self._clock.now():
            opening = self._calendar.next_open(self._clock.now())
        kind = "roll" if record.purpose is OrderPurpose.ROLL else "exit"
        what = f"{rule.replace('_', ' ')} {kind}" if rule else kind
        local = opening.astimezone(NEW_YORK)
        message = (f"day order expired at the close: {what} re-queued for the open at "
                   f"{local:%H:%M} ET ({local:%a %Y-%m-%d})")
        await self._book.transition(wid, Trigger.CLOSE_FAILED, Actor.ENGINE, message)
        await self._positions.load(wid)
        self._alert(AlertLevel.WARNING, AlertCategory.RULE, f"Exit re-queued: {record.underlying}",
                    message, wid)
        self._requeue_exit(wid, record.purpose, units, rule, opening)

    async def order_partly_filled(self, record: OrderRecord) -> None:
        """Part of a working order filled. An entry waits for the rest; an exit has taken
        those units off the position, so the monitored position (its quantity, P&L, greeks and
        the portfolio's risk) is re-read from the legs still held while the rest works."""
        wid = record.workflow_id
        if record.purpose is OrderPurpose.OPEN:
            self._alert(AlertLevel.INFO, AlertCategory.FILL, f"Partial fill: {record.underlying}",
                        f"{record.filled_quantity}/{record.quantity} filled; the rest keeps "
                        "working", wid)
        elif record.purpose in (OrderPurpose.CLOSE, OrderPurpose.PARTIAL_CLOSE) and \
                self._book.state(wid) is WorkflowState.CLOSING:  # a roll's legs settle at its end
            await self._positions.load(wid, keep_acting=True)

    async def order_filled(self, record: OrderRecord, snap: OrderSnapshot,
                           partial_units: int | None = None) -> None:
        wid = record.workflow_id
        state = self._book.state(wid)
        price = snap.price
        self._alert(AlertLevel.INFO, AlertCategory.FILL, f"Filled: {record.underlying}",
                    f"{record.purpose.value} {partial_units or record.quantity} at {price}", wid)
        if record.purpose is OrderPurpose.OPEN:
            if state is WorkflowState.EXECUTING:
                await self._book.transition(wid, Trigger.FILL, Actor.ENGINE,
                                            f"filled {partial_units or record.quantity} at {price}",
                                            payload={"order": record.external_id})
                await self._positions.load(wid)
                await self._rest(wid)
            return
        if state is WorkflowState.MONITORING and is_resting(record):
            # The resting profit-target order filled (while the app ran, or while it was
            # stopped: found at start-up): the profit-target exit, booked as such.
            await self._book.transition(
                wid, Trigger.CLOSE, Actor.ENGINE,
                f"rule {RULE}: the resting order filled {partial_units or record.quantity} of "
                f"{record.quantity} at {price}", payload={"rule": RULE, "resting": True})
            state = WorkflowState.CLOSING
        if state is not WorkflowState.CLOSING:
            return
        await self._positions.load(wid)
        if self._positions.get(wid) is None:
            # The CLOSE transition's reason names the rule (or the trader) that started it.
            await self.finish_closed(wid, f"closed at {price}")
        elif record.status is OrderStatus.EXPIRED and record.purpose is not \
                OrderPurpose.PARTIAL_CLOSE and partial_units is not None:
            # Part of the exit filled before the close: the rest goes out at the next open.
            await self._expired_exit(record, record.quantity - partial_units)
        else:
            label = roll_label(record) if record.purpose is OrderPurpose.ROLL else ""
            what = ("partially closed" if not label else "rolled" if label == "roll"
                    else f"{label} rolled")
            await self._book.transition(wid, Trigger.PARTIAL, Actor.ENGINE, f"{what} at {price}")
            # A roll or a close of more than four legs goes out as several orders: the next now.
            if record.purpose in (OrderPurpose.ROLL, OrderPurpose.CLOSE) and \
                    partial_units is None and await self._continue_exit(wid, record.purpose):
                return
            self._positions.action_done(wid)
            if not is_resting(record):
                await self._rest(wid)  # the resting order follows the smaller or rolled position

    async def cycle_start(self, workflow_id: WorkflowId) -> datetime:
        """When the workflow's current cycle began: its latest filled entry order."""
        orders = await self._store.orders(workflow_id)
        opens = [o for o in orders if o.purpose is OrderPurpose.OPEN and o.filled_quantity > 0]
        return opens[-1].created_at if opens else self._book.get(workflow_id).created_at

    async def closing_rule(self, workflow_id: WorkflowId) -> str:
        """The bare name of what started the exit that ended the cycle, for the journal: the
        rule's type (``stop_loss``, ``after_assignment``...) or ``manual`` for the trader. The
        whole reason ("rule stop_loss: close 1 of 1") stays on the workflow's CLOSE transition.

        The CLOSE is among the cycle's last few transitions, while a workflow that has scanned
        for months has hundreds before it: the recent ones are read first, the rest only when
        they hold no CLOSE."""
        recent = await self._store.transitions(workflow_id, limit=RECENT_TRANSITIONS)
        found = _closing_rule_in(recent)
        if found is None and len(recent) == RECENT_TRANSITIONS:
            found = _closing_rule_in(await self._store.transitions(workflow_id))
        return found or "manual"

    async def finish_closed(self, workflow_id: WorkflowId, reason: str, rule: str = "",
                            trigger: Trigger = Trigger.CLOSED) -> None:
        """Write the cycle's journal entry, end the workflow (CLOSING -closed-> COMPLETED, or
        ``expired`` / ``assigned`` when the broker took the last legs), schedule the restart.

        The realised P&L is the cycle's cash: its fills (x100 for options, x1 for shares), less
        fees, plus what lifecycle transactions moved (share deliveries at the strike, cash
        settlements, dividends), so it equals the broker's cash change to the cent.
        """
        now = self._clock.now()
        rule = rule or await self.closing_rule(workflow_id)
        wf = self._book.get(workflow_id)
        orders = await self._store.orders(workflow_id)
        opens = [o for o in orders if o.purpose is OrderPurpose.OPEN and o.filled_quantity > 0]
        cycle_start = opens[-1].created_at if opens else wf.created_at
        fills = [f for f in await self._store.fills(workflow_id) if f.time >= cycle_start]
        bookings = [b for b in await self._store.lifecycle_bookings(workflow_id)
                    if b.booked_at >= cycle_start]
        fees = cycle_fees([o for o in orders if o.created_at >= cycle_start], fills)
        realised = cycle_cash(fills, bookings) - fees
        entry = opens[-1].price if opens else ZERO
        exit_ = next((o.price for o in reversed(orders) if o.purpose is not OrderPurpose.OPEN
                      and o.filled_quantity > 0 and o.created_at >= cycle_start), ZERO)
        record = await self._store.add_journal(
            workflow_id=workflow_id, strategy=wf.strategy_name or "", symbol=wf.symbol,
            entry_price=entry, exit_price=exit_, fees=fees, realised_pnl=realised,
            opened_at=cycle_start, closed_at=now, closing_rule=rule)
        self._bus.publish(JournalRecorded(record))
        cooldown = now + timedelta(minutes=self._settings.config.restart_cooldown_minutes)
        await self._book.transition(workflow_id, trigger, Actor.ENGINE, reason,
                                    cooldown_until=cooldown)
        self._positions.drop(workflow_id)
        self._counters["closed"] += 1
        self._counters[f"closed_by:{rule or 'other'}"] += 1
        self._book.schedule_restart(workflow_id, cooldown, self._spawn)


def roll_label(record: OrderRecord) -> str:
    """What a roll order moved: "put spread", "call spread" or (both) "roll"."""
    return describe_legs([parse_occ(leg.symbol)[2] for leg in record.legs])


def cycle_cash(fills: list[FillRecord], bookings: list[LifecycleBooking]) -> Decimal:
    """Cash a cycle's fills and lifecycle transactions moved, before fees (received +)."""
    gross = sum(((f.price if f.action in (OrderAction.SELL_TO_OPEN, OrderAction.SELL_TO_CLOSE)
                  else -f.price) * f.quantity * multiplier_for(f.symbol) for f in fills), ZERO)
    return gross + sum((b.event.value for b in bookings), ZERO)


def cycle_fees(orders: list[OrderRecord], fills: list[FillRecord]) -> Decimal:
    """What a cycle's orders cost in fees (see :func:`~tastydesk.engine.positions.chain.order_fees`)."""
    return order_fees(orders, fills)


def _closing_rule_in(transitions: list[TransitionRecord]) -> str | None:
    """What started the latest exit among ``transitions`` (oldest first); None: no CLOSE."""
    for t in reversed(transitions):
        if t.trigger is not Trigger.CLOSE:
            continue
        rule = str(t.payload.get("rule") or "")
        if rule == CONTINUATION:  # the next order of a close split into legal orders
            continue
        return rule or ("manual" if t.actor is Actor.USER else "engine")
    return None
