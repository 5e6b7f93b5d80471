"""The workflow book: every workflow's record, its lock, its timers, and its transitions.

A transition goes through the store (which applies the domain state machine and commits the log
row with the new state) and is announced twice on the bus: ``TransitionRecorded`` for history
views and ``WorkflowChanged`` for whoever follows states (the approval desk drops a proposal that
is no longer pending, the docks refresh).
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock, TimerHandle
from tastydesk.engine.domain.enums import Actor, Trigger, WorkflowState
from tastydesk.engine.domain.events import TransitionRecorded, WorkflowChanged
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.records import TransitionRecord, WorkflowRecord
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.workflow.common import ENDED

TimerKey = tuple[str, int]


class WorkflowBook:
    def __init__(self, store: AsyncStore, bus: EventBus, clock: Clock,
                 counters: Counter[str]) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._counters = counters
        self._records: dict[WorkflowId, WorkflowRecord] = {}
        self._last_reason: dict[WorkflowId, str] = {}
        self._locks: dict[WorkflowId, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._timers: dict[TimerKey, TimerHandle] = {}

    # ---- records
    async def load(self) -> None:
        for wf in await self._store.list_workflows():
            self._records[wf.id] = wf

    def get(self, workflow_id: WorkflowId) -> WorkflowRecord:
        return self._records[workflow_id]

    def find(self, workflow_id: WorkflowId) -> WorkflowRecord | None:
        return self._records.get(workflow_id)

    def state(self, workflow_id: WorkflowId) -> WorkflowState:
        return self._records[workflow_id].state

    def all(self) -> list[WorkflowRecord]:
        return list(self._records.values())

    def last_reason(self, workflow_id: WorkflowId) -> str:
        return self._last_reason.get(workflow_id, "")

    def active(self, symbol: str | None = None) -> list[WorkflowRecord]:
        """Workflows that hold a slot (not cancelled or errored), optionally for one symbol."""
        return [w for w in self._records.values()
                if w.state not in ENDED and (symbol is None or w.symbol == symbol)]

    def lock(self, workflow_id: WorkflowId) -> asyncio.Lock:
        """Serialises everything that acts on one workflow (approval, orders, rules)."""
        return self._locks[workflow_id]

    # ---- changes
    async def create(self, symbol: str, actor: Actor, reason: str,
                     strategy_name: str | None = None, announce: bool = True) -> WorkflowRecord:
        now = self._clock.now()
        rec = await self._store.create_workflow(symbol, actor, reason, now,
                                                strategy_name=strategy_name)
        self._records[rec.id] = rec
        self._bus.publish(TransitionRecorded(TransitionRecord(
            0, rec.id, rec.version, None, rec.state, None, actor, reason, {}, now)))
        if announce:
            self._bus.publish(WorkflowChanged(rec.id, symbol, rec.state, None, "created", now))
        return rec

    async def transition(self, workflow_id: WorkflowId, trigger: Trigger, actor: Actor, reason: str,
                         payload: dict[str, Any] | None = None, **updates: Any) -> WorkflowRecord:
        previous = self._records.get(workflow_id)
        now = self._clock.now()
        rec = await self._store.transition(workflow_id, trigger, actor, reason, now,
                                           payload=payload, **updates)
        self._records[workflow_id] = rec
        self._last_reason[workflow_id] = reason
        self._counters[f"transition:{trigger.value}"] += 1
        self._bus.publish(TransitionRecorded(TransitionRecord(
            0, workflow_id, rec.version, previous.state if previous else None, rec.state, trigger,
            actor, reason, dict(payload or {}), now)))
        self._bus.publish(WorkflowChanged(workflow_id, rec.symbol, rec.state,
                                          previous.state if previous else None, reason,
                                          self._clock.now()))
        return rec

    async def update(self, workflow_id: WorkflowId, **fields: Any) -> WorkflowRecord:
        """Change a workflow's settings (rules paused, rule overrides) without a transition."""
        rec = await self._store.update_workflow(workflow_id, **fields)
        self._records[workflow_id] = rec
        return rec

    # ---- timers
    def set_timer(self, key: TimerKey, seconds: float, callback: Callable[[], None]) -> None:
        """One timer per key: setting it again replaces the previous one."""
        old = self._timers.pop(key, None)
        if old:
            old.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            callback()

        self._timers[key] = self._clock.call_later(seconds, fire)

    def set_timer_at(self, key: TimerKey, at: datetime, callback: Callable[[], None]) -> None:
        old = self._timers.pop(key, None)
        if old:
            old.cancel()
        self._timers[key] = self._clock.call_at(at, callback)

    def cancel_timers(self, workflow_id: WorkflowId) -> None:
        for key in [k for k in self._timers if k[1] == workflow_id]:
            self._timers.pop(key).cancel()

    def cancel_all_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def schedule_restart(self, workflow_id: WorkflowId, at: datetime,
                         spawn: Callable[[Any, str], Any]) -> None:
        """After a cool-down a completed or rejected workflow scans again."""
        seconds = max(0.0, (at - self._clock.now()).total_seconds())
        self.set_timer(("restart", workflow_id), seconds,
                       lambda: spawn(self._restart(workflow_id), f"restart-{workflow_id}"))

    async def _restart(self, workflow_id: WorkflowId) -> None:
        async with self._locks[workflow_id]:
            wf = self._records[workflow_id]
            if wf.state in (WorkflowState.COMPLETED, WorkflowState.REJECTED):
                await self.transition(workflow_id, Trigger.RESTART, Actor.ENGINE,
                                      "cool-down over: scanning again", cooldown_until=None)
