"""Start-up reconciliation: the store's open orders and workflows against the broker, before any
automation runs. An intent the broker never saw is closed, never sent; a workflow interrupted
mid-way is moved on; lifecycle transactions since the last one booked (expirations, assignments,
dividends while the app was closed) are booked; positions that still disagree with the broker
raise an alert.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tastydesk.engine.approvals.desk import ApprovalDesk
from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.domain.account import BrokerPosition
from tastydesk.engine.domain.enums import (
    Actor,
    AlertCategory,
    AlertLevel,
    ErrorCategory,
    OrderStatus,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.records import PositionRecord, WorkflowRecord
from tastydesk.engine.lifecycle.booking import LifecycleBook
from tastydesk.engine.lifecycle.followup import AssignmentFollowUps
from tastydesk.engine.orders.manager import OrderManager
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.positions.book import PositionBook
from tastydesk.engine.positions.settlement import Settlement
from tastydesk.engine.readiness import Readiness
from tastydesk.engine.reconcile_gate import LegDifference, ReconcileCleared, ReconcileGate
from tastydesk.engine.risk.portfolio import PortfolioRisk
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.workflow.book import WorkflowBook
from tastydesk.engine.workflow.common import HOLDING

log = logging.getLogger(__name__)
RETRY_S = 30.0


class Reconciler:
    def __init__(self, *, broker: BrokerPort, store: AsyncStore, book: WorkflowBook,
                 orders: OrderManager, desk: ApprovalDesk, positions: PositionBook,
                 settlement: Settlement, lifecycle: LifecycleBook,
                 followups: AssignmentFollowUps, risk: PortfolioRisk, readiness: Readiness,
                 audit: AuditTrail, bus: EventBus, clock: Clock,
                 spawn: Callable[[Any, str], Any]) -> None:
        self._broker = broker
        self._store = store
        self._book = book
        self._orders = orders
        self._desk = desk
        self._positions = positions
        self._settlement = settlement
        self._lifecycle = lifecycle
        self._followups = followups
        self._risk = risk
        self._readiness = readiness
        self._audit = audit
        self._bus = bus
        self._clock = clock
        self._spawn = spawn
        self.gate = ReconcileGate(readiness=readiness, store=store, book=book,
                                  positions=positions, settlement=settlement, audit=audit,
                                  bus=bus, clock=clock)

    def _alert(self, level: AlertLevel, title: str, message: str) -> None:
        self._bus.publish(Alert(level, AlertCategory.ERROR, title, message, self._clock.now()))

    async def reconcile(self) -> None:
        """Match the store's open orders and positions with the broker before anything runs."""
        now = self._clock.now()
        try:
            self._risk.set_balance(await self._broker.balance())
            for order in await self._store.orders(open_only=True):
                self._orders.adopt_record(order)
                snap = await self._broker.find_order(order.external_id)
                if snap is None and order.broker_order_id:
                    snap = await self._broker.get_order(order.broker_order_id)
                if snap is None:
                    detail = ("not found at the broker after restart: it never reached the broker"
                              if order.status in (OrderStatus.PENDING_SUBMIT, OrderStatus.UNKNOWN)
                              else "no longer live at the broker (day order ended)")
                    await self._orders.close_missing(order, detail)
                    await self._audit.audit(Actor.ENGINE, "reconcile",
                                            f"{order.external_id}: {detail}", order.workflow_id)
                    continue
                self._orders.track(order, snap)
                await self._orders.apply_snapshot(order.external_id, snap)
            for wf in self._book.all():
                await self._restore(wf)
            # What the broker did while the app was closed (expirations, assignments, deliveries,
            # dividends) is booked before positions are compared: it explains the difference.
            await self._lifecycle.catch_up()
            await self._followups.resume()
            differences = leg_differences(await self._broker.positions(),
                                          await self._store.positions(open_only=True),
                                          {wf.id: wf.symbol for wf in self._book.all()})
            # -- the gate: differences nothing explained wait for the trader --------------
            if await self.gate.hold(differences):
                return
            self._readiness.mark_reconciled(f"reconciled at {now:%Y-%m-%d %H:%M:%S}")
            await self._audit.audit(Actor.ENGINE, "reconcile", self._readiness.detail)
            self._bus.publish(ReconcileCleared(self._readiness.detail, now))
        except Exception as exc:
            self._readiness.mark_failed(f"reconciliation failed: {exc}")
            log.exception("reconciliation failed")
            await self._audit.error(ErrorCategory.RECONCILE, str(exc))
            self._alert(AlertLevel.ERROR, "Reconciliation failed",
                        f"{exc}. Automation stays paused until it succeeds.")
            self._book.set_timer(("reconcile", 0), RETRY_S,
                                 lambda: self._spawn(self.reconcile(), "reconcile"))

    async def _restore(self, wf: WorkflowRecord) -> None:
        now = self._clock.now()
        state = wf.state
        has_open = self._orders.has_open(wf.id)
        if state is WorkflowState.EVALUATING:
            await self._book.transition(wf.id, Trigger.NO_CANDIDATE, Actor.ENGINE,
                                        "evaluation interrupted by a restart")
        elif state is WorkflowState.PENDING_APPROVAL and wf.proposal_id is not None:
            self._desk.restore(await self._store.get_proposal(wf.proposal_id))
        elif state is WorkflowState.EXECUTING and not has_open:
            await self._book.transition(wf.id, Trigger.EXEC_FAILED, Actor.ENGINE,
                                        "entry order ended while the app was closed",
                                        cooldown_until=now)
        elif state in HOLDING:
            await self._positions.load(wf.id)
            if state is WorkflowState.CLOSING and not has_open:
                if self._positions.get(wf.id) is not None:
                    await self._book.transition(wf.id, Trigger.CLOSE_FAILED, Actor.ENGINE,
                                                "closing order ended while the app was closed")
                else:
                    await self._settlement.finish_closed(wf.id, "position flat after restart")
        elif state in (WorkflowState.COMPLETED, WorkflowState.REJECTED):
            self._book.schedule_restart(wf.id, wf.cooldown_until or now, self._spawn)


def leg_differences(broker: list[BrokerPosition], held_rows: list[PositionRecord],
                    underlying_of: dict[WorkflowId, str]) -> list[LegDifference]:
    """Every leg whose quantity differs between the app and the broker: each leg the store
    holds (not only monitored positions': an entry order that part-filled keeps its workflow
    EXECUTING, yet its contracts are already held), and each leg the broker holds on the
    underlying of a workflow that holds a position while the app holds none of that leg."""
    at_broker = {p.symbol: p for p in broker}
    held: Counter[str] = Counter()
    holders: dict[str, set[WorkflowId]] = {}
    for pos in held_rows:
        held[pos.symbol] += pos.quantity
        holders.setdefault(pos.symbol, set()).add(pos.workflow_id)
    by_underlying: dict[str, set[WorkflowId]] = {}
    for wf_ids in holders.values():
        for wf_id in wf_ids:
            by_underlying.setdefault(underlying_of.get(wf_id, ""), set()).add(wf_id)

    def mark(symbol: str) -> Decimal | None:
        pos = at_broker.get(symbol)
        if pos is None:
            return None
        return pos.mark if pos.mark is not None else pos.average_open_price

    differences = [LegDifference(symbol, qty, _quantity(at_broker.get(symbol)),
                                 tuple(sorted(holders[symbol])),
                                 underlying_of.get(min(holders[symbol]), ""), mark(symbol))
                   for symbol, qty in held.items() if _quantity(at_broker.get(symbol)) != qty]
    differences += [LegDifference(p.symbol, 0, p.quantity,
                                  tuple(sorted(by_underlying[p.underlying])), p.underlying,
                                  mark(p.symbol))
                    for p in broker if p.quantity and p.symbol not in held
                    and p.underlying in by_underlying]
    return differences


def _quantity(position: BrokerPosition | None) -> int:
    return position.quantity if position is not None else 0
