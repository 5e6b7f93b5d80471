"""What an order's end means for its workflow: a fill opens or closes a position, a failure
sends the workflow back, and a closed cycle is written to the journal.

Called by the order manager under the workflow's lock (it implements ``OrderOutcomes``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.enums import (
    Actor,
    AlertCategory,
    AlertLevel,
    OrderAction,
    OrderPurpose,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert, JournalRecorded
from tastydesk.engine.domain.money import CENT, ZERO
from tastydesk.engine.domain.orders import OrderSnapshot
from tastydesk.engine.domain.records import FillRecord, OrderRecord
from tastydesk.engine.positions.book import PositionBook
from tastydesk.engine.settings import Settings
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.workflow.book import WorkflowBook
from tastydesk.engine.workflow.common import CLOSE_RETRY_MINUTES

# A broker's rejection of a closing order because the position is not (or no longer) held.
_POSITION_MISSING = re.compile(r"exceeds the (long|short) position|no (such )?position|"
                               r"position (is )?not (found|held|open)|insufficient position",
                               re.IGNORECASE)


def position_missing(reason: str) -> bool:
    return bool(_POSITION_MISSING.search(reason or ""))

FEE_PER_CONTRACT = Decimal("1.00")  # estimate for orders stored before fees were kept


class Settlement:
    def __init__(self, *, book: WorkflowBook, positions: PositionBook, store: AsyncStore,
                 settings: Settings, bus: EventBus, clock: Clock,
                 spawn: Callable[[Any, str], Any], counters: Counter[str]) -> None:
        self._book = book
        self._positions = positions
        self._store = store
        self._settings = settings
        self._bus = bus
        self._clock = clock
        self._spawn = spawn
        self._counters = counters

    def _alert(self, level: AlertLevel, category: AlertCategory, title: str, message: str,
               workflow_id: int) -> None:
        self._bus.publish(Alert(level, category, title, message, self._clock.now(), workflow_id))

    async def order_ended(self, record: OrderRecord, reason: str) -> None:
        wid = record.workflow_id
        state = self._book.state(wid)
        self._alert(AlertLevel.WARNING, AlertCategory.ERROR, f"Order ended: {record.underlying}",
                    reason, wid)
        if record.purpose is OrderPurpose.OPEN and state is WorkflowState.EXECUTING:
            cooldown = self._clock.now() + timedelta(
                minutes=self._settings.config.scan_interval_minutes)
            await self._book.transition(wid, Trigger.EXEC_FAILED, Actor.ENGINE, reason,
                                        cooldown_until=cooldown)
        elif state is WorkflowState.CLOSING:
            await self._book.transition(wid, Trigger.CLOSE_FAILED, Actor.ENGINE, reason)
            await self._positions.load(wid)  # fills before the end may have reduced it
            self._positions.close_failed(
                wid, self._clock.now() + timedelta(minutes=CLOSE_RETRY_MINUTES))
            if position_missing(reason):
                # Closing again cannot succeed: stop the rules, tell the trader.
                await self._positions.set_rules_paused(wid, True)
                self._alert(AlertLevel.ERROR, AlertCategory.ERROR,
                            f"Position not at the broker: {record.underlying}",
                            f"{reason}. Rules paused, no close is retried; reconcile with the "
                            f"broker (restart) and decide.", wid)

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
            return
        if state is not WorkflowState.CLOSING:
            return
        await self._positions.load(wid)
        if self._positions.get(wid) is None:
            # The CLOSE transition's reason names the rule (or the trader) that started it.
            await self.finish_closed(wid, f"closed at {price}", self._book.last_reason(wid))
        else:
            what = "rolled" if record.purpose is OrderPurpose.ROLL else "partially closed"
            await self._book.transition(wid, Trigger.PARTIAL, Actor.ENGINE, f"{what} at {price}")
            self._positions.action_done(wid)

    async def finish_closed(self, workflow_id: int, reason: str, rule: str = "") -> None:
        """CLOSING -> COMPLETED: write the cycle's journal entry, then schedule the restart."""
        now = self._clock.now()
        wf = self._book.get(workflow_id)
        orders = await self._store.orders(workflow_id)
        opens = [o for o in orders if o.purpose is OrderPurpose.OPEN and o.filled_quantity > 0]
        cycle_start = opens[-1].created_at if opens else wf.created_at
        fills = [f for f in await self._store.fills(workflow_id) if f.time >= cycle_start]
        gross = sum(((f.price if f.action in (OrderAction.SELL_TO_OPEN, OrderAction.SELL_TO_CLOSE)
                      else -f.price) * f.quantity * 100 for f in fills), ZERO)
        fees = cycle_fees([o for o in orders if o.created_at >= cycle_start], fills)
        entry = opens[-1].price if opens else ZERO
        exit_ = next((o.price for o in reversed(orders) if o.purpose is not OrderPurpose.OPEN
                      and o.filled_quantity > 0), ZERO)
        record = await self._store.add_journal(
            workflow_id=workflow_id, strategy=wf.strategy_name or "", symbol=wf.symbol,
            entry_price=entry, exit_price=exit_, fees=fees, realised_pnl=gross - fees,
            opened_at=cycle_start, closed_at=now, closing_rule=rule or reason)
        self._bus.publish(JournalRecorded(record))
        cooldown = now + timedelta(minutes=self._settings.config.restart_cooldown_minutes)
        await self._book.transition(workflow_id, Trigger.CLOSED, Actor.ENGINE, reason,
                                    cooldown_until=cooldown)
        self._positions.drop(workflow_id)
        self._counters["closed"] += 1
        self._counters[f"closed_by:{rule or 'other'}"] += 1
        self._book.schedule_restart(workflow_id, cooldown, self._spawn)


def cycle_fees(orders: list[OrderRecord], fills: list[FillRecord]) -> Decimal:
    """What a cycle's orders cost in fees: each filled order's broker figure (from its dry run),
    pro rata to the part that filled; an order without one (written before fees were kept) is
    charged the per-contract estimate on its fills."""
    total = ZERO
    for order in orders:
        if order.filled_quantity <= 0:
            continue
        if order.fees is not None:
            total += order.fees * order.filled_quantity / order.quantity
        else:
            contracts = sum(f.quantity for f in fills if f.order_id == order.id)
            total += Decimal(contracts) * FEE_PER_CONTRACT
    return total.quantize(CENT)
