"""History the views show (transitions, decisions, rule actions, journal, audit, errors, order
figures), held in memory: loaded once at start-up through the async store, then kept current
from the events the engine publishes when it writes them. No view reads SQLite.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from typing import Any, TypeVar

from tastydesk.engine.bus import EventBus
from tastydesk.engine.domain.enums import OrderStatus
from tastydesk.engine.domain.events import (
    AuditRecorded,
    DecisionRecorded,
    ErrorRecorded,
    JournalRecorded,
    OrderRecorded,
    RuleActionRecorded,
    TransitionRecorded,
)
from tastydesk.engine.domain.ids import ExternalOrderId, WorkflowId
from tastydesk.engine.domain.order_fsm import price_steps
from tastydesk.engine.domain.records import (
    AuditRecord,
    DecisionRecord,
    ErrorRecord,
    JournalRecord,
    RuleActionRecord,
    TransitionRecord,
)
from tastydesk.engine.execution_pricing.fill_quality import FillSample, samples_from_events
from tastydesk.engine.store.service import AsyncStore

LOG_LIMIT = 1000  # most recent decisions, audit entries and errors kept for the views
R = TypeVar("R")


class _Log(list[R]):
    """Records in store order; new ones numbered after the stored ones."""

    def __init__(self, limit: int | None = None) -> None:
        super().__init__()
        self.limit = limit
        self.next_id = 1

    def load(self, records: list[R]) -> None:
        fresh = list(self)
        self.clear()
        self.extend(records)
        self.next_id = max((r.id for r in records), default=0) + 1  # type: ignore[attr-defined]
        for r in fresh:
            self.add(r)

    def add(self, record: R) -> R:
        if record.id == 0:  # type: ignore[attr-defined]
            record = dataclasses.replace(record, id=self.next_id)  # type: ignore[type-var]
        self.next_id = max(self.next_id, record.id + 1)  # type: ignore[attr-defined]
        self.append(record)
        if self.limit is not None and len(self) > self.limit:
            del self[: len(self) - self.limit]
        return record


class History:
    def __init__(self, store: AsyncStore, bus: EventBus) -> None:
        self._store = store
        self._bus = bus
        self.transitions: _Log[TransitionRecord] = _Log()
        self.decisions: _Log[DecisionRecord] = _Log(LOG_LIMIT)
        self.rule_actions: _Log[RuleActionRecord] = _Log()
        self.journal: _Log[JournalRecord] = _Log()
        self.audit: _Log[AuditRecord] = _Log(LOG_LIMIT)
        self.errors: _Log[ErrorRecord] = _Log(LOG_LIMIT)
        self._by_workflow: dict[WorkflowId, list[TransitionRecord]] = defaultdict(list)
        self._last: dict[int, TransitionRecord] = {}
        self.time_in_state: dict[str, float] = defaultdict(float)
        self._sent: set[str] = set()
        self._filled: set[str] = set()
        self._steps: dict[str, int] = {}  # external id -> price steps
        # external id -> (workflow id, fills with their market), and the units they cover
        self._fills: dict[ExternalOrderId, list[tuple[WorkflowId, FillSample]]] = {}
        self._filled_units: dict[str, int] = {}

    # ---- figures
    @property
    def orders_sent(self) -> int:
        return len(self._sent)

    @property
    def orders_filled(self) -> int:
        return len(self._filled)

    @property
    def price_steps(self) -> int:
        return sum(self._steps.values())

    def fills(self) -> list[tuple[WorkflowId, FillSample]]:
        """Every fill recorded with its market, with its workflow id (fill quality)."""
        return [f for samples in self._fills.values() for f in samples]

    def errors_by_category(self) -> dict[str, int]:
        return dict(Counter(e.category for e in self.errors))

    def workflow_transitions(self, workflow_id: WorkflowId) -> list[TransitionRecord]:
        return list(self._by_workflow.get(workflow_id, ()))

    # ---- loading and following
    def subscribe(self) -> list[Any]:
        bus = self._bus
        return [
            bus.subscribe(TransitionRecorded, lambda e: self._transition(e.record)),
            bus.subscribe(DecisionRecorded, lambda e: self.decisions.add(e.record)),
            bus.subscribe(RuleActionRecorded, lambda e: self.rule_actions.add(e.record)),
            bus.subscribe(JournalRecorded, lambda e: self.journal.add(e.record)),
            bus.subscribe(AuditRecorded, lambda e: self.audit.add(e.record)),
            bus.subscribe(ErrorRecorded, lambda e: self.errors.add(e.record)),
            bus.subscribe(OrderRecorded, self._order),
        ]

    async def load(self) -> None:
        store = self._store
        self._load_transitions(await store.transitions(None))
        self.decisions.load(await store.decisions(limit=LOG_LIMIT))
        self.rule_actions.load(await store.rule_actions())
        self.journal.load(await store.journal())
        self.audit.load(await store.audit_log(limit=LOG_LIMIT))
        self.errors.load(await store.errors(limit=LOG_LIMIT))

    async def load_order_figures(self) -> None:
        """Orders sent and filled, and price steps, over the whole history (one read per order:
        run in the background after start-up)."""
        for order in await self._store.orders():
            if order.broker_order_id:
                ext = order.external_id
                self._sent.add(ext)
                if order.status is OrderStatus.FILLED:
                    self._filled.add(ext)
                events = await self._store.order_events(ext)
                stored = price_steps(events)
                # A step announced while this ran is in both counts: keep the larger.
                self._steps[ext] = max(self._steps.get(ext, 0), stored)
                # Likewise a fill: keep whichever of the two covers more units.
                if order.filled_quantity > self._filled_units.get(ext, 0):
                    self._filled_units[ext] = order.filled_quantity
                    self._fills[ext] = [(order.workflow_id, f) for f in samples_from_events(
                        order.underlying, "", order.purpose, events)]

    def _load_transitions(self, records: list[TransitionRecord]) -> None:
        fresh = list(self.transitions)
        self.transitions.clear()
        self._by_workflow.clear()
        self._last.clear()
        self.time_in_state.clear()
        self.transitions.next_id = 1
        for r in sorted(records, key=lambda t: (t.workflow_id, t.seq)):
            self._follow(r)
        self.transitions.load(records)
        for r in fresh:
            self._transition(r)

    def _transition(self, record: TransitionRecord) -> None:
        record = self.transitions.add(record)
        self._follow(record)

    def _follow(self, record: TransitionRecord) -> None:
        self._by_workflow[record.workflow_id].append(record)
        prev = self._last.get(record.workflow_id)
        if prev is not None:
            self.time_in_state[prev.to_state.value] += (record.time - prev.time).total_seconds()
        self._last[record.workflow_id] = record

    def _order(self, event: OrderRecorded) -> None:
        rec = event.record
        if rec.broker_order_id:
            self._sent.add(rec.external_id)
        if rec.status is OrderStatus.FILLED:
            self._filled.add(rec.external_id)
        if event.price_step:
            self._steps[rec.external_id] = self._steps.get(rec.external_id, 0) + 1
        before = self._filled_units.get(rec.external_id, 0)
        if rec.filled_quantity > before:
            self._filled_units[rec.external_id] = rec.filled_quantity
            if event.mid is not None and event.natural is not None:
                self._fills.setdefault(rec.external_id, []).append((rec.workflow_id, FillSample(
                    rec.underlying, "", rec.filled_quantity - before, rec.price, event.mid,
                    event.natural, rec.purpose)))
