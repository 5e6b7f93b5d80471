"""The reconciliation gate: differences with the broker wait for the trader before anything runs.

The last step of reconciliation, after open orders are matched and lifecycle events (expiry,
assignment, exercise) are booked: whatever still differs per leg between the app's positions
and the broker's has no explanation the engine could act on. Automation then stays disarmed
(readiness not reconciled, so no scan, approval or rule sends an order) and the trader sees
each leg, app against broker, with three decisions:

* take the broker's view: the app's position in the leg is set to the broker's quantity, and
  nothing is sent. The change is booked like a lifecycle transaction of kind ``reconciled``
  (:class:`~tastydesk.engine.domain.lifecycle.LifecycleEvent`, in the same transaction that
  moves the position) and audited. The quantity that vanished (or appeared) is priced at the
  leg's **last mark**, an estimate and flagged as one: the app's last quote mid for the leg,
  else the broker's mark, else the broker's average open price, else the app's average open
  price (no P&L). Its cash counts in the cycle's realised P&L like any lifecycle booking. When
  several workflows hold the leg, the change reduces them in workflow order and any increase
  goes to the first. A leg the broker holds on a workflow's underlying that the app does not
  hold is added to that workflow (refused when several workflows hold the underlying). A
  workflow left with no leg ends (journal entry, cool-down), as when the broker holds none;
* end the workflow: it is cancelled, nothing is sent;
* leave it for later: acknowledged, remembered, not asked again while it stays the same.

When every difference has a decision, the gate opens and automation may arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.enums import (
    Actor,
    AlertCategory,
    AlertLevel,
    ErrorCategory,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.lifecycle import LifecycleEvent, LifecycleKind, multiplier_for
from tastydesk.engine.positions.book import PositionBook
from tastydesk.engine.positions.settlement import Settlement
from tastydesk.engine.readiness import Readiness
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.workflow.book import WorkflowBook
from tastydesk.engine.workflow.common import HOLDING

ACKNOWLEDGED_KEY = "reconcile_acknowledged"
ZERO = Decimal("0")
RECONCILED_RULE = "reconciled"  # the journal's closing_rule for a cycle ended by the gate


class DifferenceAction(StrEnum):
    TAKE_BROKER = "take_broker"
    END_WORKFLOW = "end_workflow"
    LATER = "later"


@dataclass(frozen=True, slots=True)
class LegDifference:
    """One leg the app and the broker disagree on, and the workflows holding it in the app."""

    symbol: str
    app_quantity: int
    broker_quantity: int
    workflow_ids: tuple[WorkflowId, ...] = ()
    underlying: str = ""
    broker_mark: Decimal | None = None  # the broker's mark, or its average open price

    def describe(self) -> str:
        return f"{self.symbol}: app {self.app_quantity}, broker {self.broker_quantity}"


@dataclass(frozen=True, slots=True)
class ReconcileDifferences:
    """Bus event: the gate holds automation until each of these has a decision."""

    differences: tuple[LegDifference, ...]
    time: datetime


@dataclass(frozen=True, slots=True)
class ReconcileCleared:
    """Bus event: the app agrees with the broker and may act (start-up reconciliation passed,
    a retry after a failure passed, or the trader decided the last difference). What waits
    for it (resting exits, rolls a restart interrupted) goes out now, not before."""

    detail: str
    time: datetime


class ReconcileGate:
    """Holds automation while differences wait for a decision; see the module docstring."""

    def __init__(self, *, readiness: Readiness, store: AsyncStore, book: WorkflowBook,
                 positions: PositionBook, settlement: Settlement, audit: AuditTrail,
                 bus: EventBus, clock: Clock) -> None:
        self._readiness = readiness
        self._store = store
        self._book = book
        self._positions = positions
        self._settlement = settlement
        self._audit = audit
        self._bus = bus
        self._clock = clock
        self._pending: dict[str, LegDifference] = {}

    def pending(self) -> list[LegDifference]:
        """The differences still waiting for the trader, by symbol."""
        return [self._pending[s] for s in sorted(self._pending)]

    async def hold(self, differences: list[LegDifference]) -> bool:
        """Keep automation disarmed while any new difference waits; True when it holds."""
        acknowledged: dict[str, Any] = await self._store.get_config(ACKNOWLEDGED_KEY, None) or {}
        waiting = [d for d in differences
                   if acknowledged.get(d.symbol) != [d.app_quantity, d.broker_quantity]]
        self._pending = {d.symbol: d for d in waiting}
        for diff in differences:
            await self._audit.error(ErrorCategory.RECONCILE, "position mismatch", detail=diff.describe())
        if not waiting:
            return False
        detail = (f"held: {len(waiting)} difference(s) with the broker wait for a decision "
                  f"({'; '.join(d.describe() for d in waiting[:3])})")
        self._readiness.mark_failed(detail)
        await self._audit.audit(Actor.ENGINE, "reconcile", detail)
        now = self._clock.now()
        self._bus.publish(ReconcileDifferences(tuple(self.pending()), now))
        self._bus.publish(Alert(AlertLevel.ERROR, AlertCategory.ERROR,
                                "Automation held: positions differ from the broker",
                                detail + ". Decide each one; no order is sent until then.", now))
        return True

    async def decide(self, symbol: str, action: DifferenceAction, user: str) -> None:
        """Apply the trader's decision on one leg; opens the gate after the last one."""
        diff = self._pending.get(symbol)
        if diff is None:
            raise ValueError(f"symbol: no difference waits for {symbol!r}")
        if action is DifferenceAction.TAKE_BROKER:
            await self._take_broker(diff, user)
        elif action is DifferenceAction.END_WORKFLOW:
            for wf_id in diff.workflow_ids:
                wf = self._book.get(wf_id)
                if wf is not None and wf.state is not WorkflowState.CANCELLED:
                    await self._book.transition(wf_id, Trigger.CANCEL, Actor.USER,
                                                f"ended by {user}: {diff.describe()}")
        acknowledged: dict[str, Any] = await self._store.get_config(ACKNOWLEDGED_KEY, None) or {}
        acknowledged[symbol] = [diff.app_quantity, diff.broker_quantity]
        await self._store.set_config(ACKNOWLEDGED_KEY, acknowledged)
        await self._audit.audit(user, "reconcile decision", f"{diff.describe()}: {action.value}")
        del self._pending[symbol]
        if not self._pending:
            now = self._clock.now()
            self._readiness.mark_reconciled(
                f"reconciled at {now:%Y-%m-%d %H:%M:%S}; differences decided")
            self._bus.publish(ReconcileCleared(self._readiness.detail, now))

    async def _take_broker(self, diff: LegDifference, user: str) -> None:
        """Set the app's position in the leg to the broker's (see the module docstring)."""
        changes = await self._changes(diff)
        now = self._clock.now()
        # Dated at the last booked transaction: the lifecycle catch-up reads the broker's
        # transactions since then, and this booking is none of the broker's.
        dated = await self._store.last_lifecycle_time()
        for wf_id, change in changes.items():
            wf = self._book.get(wf_id)
            price, source = self._mark(wf_id, diff)
            detail = (f"taken the broker's view by {user}: {diff.describe()}; "
                      f"{change:+d} booked at {price} ({source}, an estimate)")
            event = LifecycleEvent(
                f"reconcile:{wf_id}:{diff.symbol}:{now.isoformat()}", LifecycleKind.RECONCILED,
                diff.symbol, diff.underlying or wf.symbol, change, price,
                -change * price * multiplier_for(diff.symbol), dated or wf.created_at,
                description=detail)
            await self._store.book_lifecycle(event, wf_id, now)
            await self._audit.audit(user, "reconcile", detail, wf_id)
            if wf.state not in HOLDING:
                continue  # e.g. an entry still executing: its order flow owns the position
            await self._positions.load(wf_id)
            if self._positions.get(wf_id) is None:
                await self._close_as_flat(wf_id, detail)

    async def _changes(self, diff: LegDifference) -> dict[WorkflowId, int]:
        """How much each workflow's position in the leg moves to match the broker."""
        holders = sorted((p for p in await self._store.positions(open_only=True)
                          if p.symbol == diff.symbol and p.quantity != 0),
                         key=lambda p: (p.workflow_id, p.id))
        remaining = diff.broker_quantity - sum(p.quantity for p in holders)
        changes: dict[WorkflowId, int] = {}
        for pos in holders:
            if remaining == 0:
                break
            if remaining * pos.quantity < 0:  # this holder's position shrinks
                step = max(-abs(pos.quantity), min(abs(pos.quantity), remaining))
                changes[pos.workflow_id] = changes.get(pos.workflow_id, 0) + step
                remaining -= step
        if remaining != 0:
            owners = sorted({p.workflow_id for p in holders} or set(diff.workflow_ids))
            if not holders and len(owners) != 1:
                raise ValueError(f"{diff.symbol}: workflows {', '.join(map(str, owners))} hold "
                                 f"{diff.underlying}; which one takes the leg is not known (end "
                                 f"a workflow or leave it for later)")
            if not owners:
                raise ValueError(f"{diff.symbol}: no workflow to give the broker's "
                                 f"{diff.broker_quantity} to (leave it for later)")
            changes[owners[0]] = changes.get(owners[0], 0) + remaining
        return changes

    def _mark(self, wf_id: WorkflowId, diff: LegDifference) -> tuple[Decimal, str]:
        """The price the change is booked at, and where it came from (module docstring)."""
        mon = self._positions.get(wf_id)
        leg = next((g for g in mon.legs if g.symbol == diff.symbol), None) if mon else None
        if leg is not None and leg.mid is not None:
            return leg.mid, "the leg's last mark"
        if diff.broker_mark is not None:
            return diff.broker_mark, "the broker's mark"
        if leg is not None:
            return leg.entry_price, "no mark: its open price"
        return ZERO, "no mark and no open price"

    async def _close_as_flat(self, wf_id: WorkflowId, reason: str) -> None:
        wf = self._book.get(wf_id)
        if wf is None:
            return
        if wf.state is WorkflowState.MONITORING:
            await self._book.transition(wf_id, Trigger.CLOSE, Actor.USER, reason,
                                        payload={"rule": RECONCILED_RULE})
            wf = self._book.get(wf_id)
        if wf is not None and wf.state is WorkflowState.CLOSING:
            await self._settlement.finish_closed(wf_id, reason, RECONCILED_RULE)
