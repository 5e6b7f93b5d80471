"""The reconciliation gate: differences with the broker wait for the trader before anything runs.

The last step of reconciliation, after open orders are matched and lifecycle events (expiry,
assignment, exercise) are booked: whatever still differs per leg between the app's positions
and the broker's has no explanation the engine could act on. Automation then stays disarmed
(readiness not reconciled, so no scan, approval or rule sends an order) and the trader sees
each leg, app against broker, with three decisions:

* take the broker's view: the broker holds none of the workflow's legs, so its position is
  closed as flat (journal entry, cool-down) instead of being closed again at the broker;
* end the workflow: it is cancelled, nothing is sent;
* leave it for later: acknowledged, remembered, not asked again while it stays the same.

When every difference has a decision, the gate opens and automation may arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.enums import Actor, AlertCategory, AlertLevel, Trigger, WorkflowState
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.positions.settlement import Settlement
from tastydesk.engine.readiness import Readiness
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.workflow.book import WorkflowBook

ACKNOWLEDGED_KEY = "reconcile_acknowledged"


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
    workflow_ids: tuple[int, ...] = ()

    def describe(self) -> str:
        return f"{self.symbol}: app {self.app_quantity}, broker {self.broker_quantity}"


@dataclass(frozen=True, slots=True)
class ReconcileDifferences:
    """Bus event: the gate holds automation until each of these has a decision."""

    differences: tuple[LegDifference, ...]
    time: datetime


class ReconcileGate:
    """Holds automation while differences wait for a decision; see the module docstring."""

    def __init__(self, *, readiness: Readiness, store: AsyncStore, book: WorkflowBook,
                 settlement: Settlement, audit: AuditTrail, bus: EventBus, clock: Clock) -> None:
        self._readiness = readiness
        self._store = store
        self._book = book
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
            await self._audit.error("reconcile", "position mismatch", detail=diff.describe())
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
            if diff.broker_quantity != 0:
                raise ValueError(f"{symbol}: the broker holds {diff.broker_quantity}; only a leg "
                                 f"the broker no longer holds can be taken as flat (end the "
                                 f"workflow or leave it for later)")
            for wf_id in diff.workflow_ids:
                await self._close_as_flat(wf_id, diff)
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
            self._readiness.mark_reconciled(
                f"reconciled at {self._clock.now():%Y-%m-%d %H:%M:%S}; differences decided")

    async def _close_as_flat(self, wf_id: int, diff: LegDifference) -> None:
        wf = self._book.get(wf_id)
        if wf is None:
            return
        reason = f"taken the broker's view: {diff.describe()}"
        if wf.state is WorkflowState.MONITORING:
            await self._book.transition(wf_id, Trigger.CLOSE, Actor.USER, reason)
            wf = self._book.get(wf_id)
        if wf is not None and wf.state is WorkflowState.CLOSING:
            await self._settlement.finish_closed(wf_id, reason)
