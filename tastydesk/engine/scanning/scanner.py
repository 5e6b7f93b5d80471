"""The scanner: scheduled and on-demand scans of the watch list, and the evaluation of one
workflow (SCANNING -> EVALUATING -> a proposal for the approval desk, or back with a reason).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from tastydesk.engine.approvals.desk import ApprovalDesk
from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock, MarketCalendar, TimerHandle
from tastydesk.engine.config import ConfigChange
from tastydesk.engine.domain.enums import Actor, ErrorCategory, Trigger, WorkflowState
from tastydesk.engine.domain.events import WorkflowChanged
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.errors import EngineError
from tastydesk.engine.readiness import Readiness
from tastydesk.engine.scanning.candidates import CandidateBuilder, Plan
from tastydesk.engine.settings import Settings
from tastydesk.engine.workflow.book import WorkflowBook
from tastydesk.engine.workflow.common import SEARCHING

log = logging.getLogger(__name__)


class Scanner:
    def __init__(self, *, book: WorkflowBook, candidates: CandidateBuilder, desk: ApprovalDesk,
                 settings: Settings, readiness: Readiness, audit: AuditTrail, bus: EventBus,
                 clock: Clock, calendar: MarketCalendar, spawn: Callable[[Any, str], Any],
                 counters: Counter[str]) -> None:
        self._book = book
        self._candidates = candidates
        self._desk = desk
        self._settings = settings
        self._readiness = readiness
        self._audit = audit
        self._bus = bus
        self._clock = clock
        self._calendar = calendar
        self._spawn = spawn
        self._counters = counters
        self._timer: TimerHandle | None = None
        # workflow id -> the reason its last evaluation found nothing to build, while it keeps
        # scanning: an identical answer is not recorded again.
        self._unchanged: dict[int, str] = {}

    def subscribe(self) -> list[Any]:
        return [self._bus.subscribe(ConfigChange, self._on_config),
                self._bus.subscribe(WorkflowChanged, self._on_workflow_changed)]

    def _on_workflow_changed(self, event: WorkflowChanged) -> None:
        if event.state not in (WorkflowState.SCANNING, WorkflowState.EVALUATING):
            self._unchanged.pop(event.workflow_id, None)

    def _on_config(self, event: ConfigChange) -> None:
        if "scan_interval_minutes" in event.changed:
            self.schedule()

    def schedule(self, first: bool = False) -> None:
        """The next scheduled scan: soon after start, then every scan interval while open."""
        now = self._clock.now()
        interval = timedelta(minutes=self._settings.config.scan_interval_minutes)
        at = now + (timedelta(seconds=1) if first else interval)
        if not self._calendar.is_open(at):
            at = self._calendar.next_open(at) + timedelta(minutes=5)

        def fire() -> None:
            if self._settings.armed and self._readiness.reconciled:
                self._spawn(self.scan_now(), "scheduled-scan")
            self.schedule()

        self.stop()
        self._timer = self._clock.call_at(at, fire)

    def stop(self) -> None:
        if self._timer:
            self._timer.cancel()

    async def scan_now(self, symbols: Sequence[str] | None = None) -> None:
        if not self._readiness.reconciled:
            raise EngineError("the broker is not reconciled yet; scanning waits for it")
        config = self._settings.config
        now = self._clock.now()
        watch = [s.upper() for s in (symbols or config.watchlist)]
        self._counters["scans"] += 1
        for symbol in watch:
            slots = self._book.active(symbol)
            searching = [w for w in slots if w.state in SEARCHING]
            if (not searching and len(slots) < config.max_workflows_per_symbol
                    and len(self._book.active()) < config.max_workflows_total):
                await self._book.create(symbol, Actor.ENGINE, "watchlist scan")
        for wf in self._book.all():
            if (wf.symbol in watch and wf.state is WorkflowState.SCANNING
                    and (wf.cooldown_until is None or wf.cooldown_until <= now)):
                self._spawn(self._evaluate(wf.id), f"evaluate-{wf.id}")

    async def _evaluate(self, workflow_id: WorkflowId) -> None:
        async with self._book.lock(workflow_id):
            wf = self._book.get(workflow_id)
            if wf.state is not WorkflowState.SCANNING:
                return
            # No re-entry during a fill's cool-down: known before anything is built.
            cooling = self._desk.cooling_down(wf.symbol)
            plan: Plan | str = cooling[0] if cooling is not None else ""
            remember = False
            if cooling is None:
                try:
                    plan = await self._candidates.plan(
                        wf.symbol, exclude=self._desk.taken_strategies(workflow_id, wf.symbol))
                except Exception as exc:
                    log.exception("evaluation of %s failed", wf.symbol)
                    await self._audit.error(ErrorCategory.EVALUATE, str(exc), workflow_id=workflow_id)
                    plan = f"evaluation failed: {exc}"
                else:
                    remember = True
                # Same inputs, same answer as last time (e.g. the symbol's only strategy is
                # already open in its other workflow): nothing to build and nothing new to
                # record; the next scan asks again.
                if isinstance(plan, str) and self._unchanged.get(workflow_id) == plan:
                    return
            await self._book.transition(workflow_id, Trigger.SCAN, Actor.ENGINE,
                                        "scan picked the symbol")
            if isinstance(plan, str):
                if remember:
                    self._unchanged[workflow_id] = plan
                until = cooling[1] if cooling is not None else self._next_scan()
                await self._book.transition(workflow_id, Trigger.NO_CANDIDATE, Actor.ENGINE,
                                            plan, cooldown_until=until)
                return
            self._unchanged.pop(workflow_id, None)
            try:
                outcome = await self._candidates.build_planned(plan, workflow_id)
            except Exception as exc:
                log.exception("evaluation of %s failed", wf.symbol)
                await self._audit.error(ErrorCategory.EVALUATE, str(exc), workflow_id=workflow_id)
                outcome = f"evaluation failed: {exc}"
            if isinstance(outcome, str):
                await self._book.transition(workflow_id, Trigger.NO_CANDIDATE, Actor.ENGINE,
                                            outcome, cooldown_until=self._next_scan())
                return
            proposal, strategy = outcome
            # No duplicate of a pending or open trade: another workflow on the symbol may have
            # proposed the same strategy while this one was being built.
            held = self._desk.hold_back(workflow_id, wf.symbol, strategy.name)
            if held is not None:
                await self._book.transition(workflow_id, Trigger.NO_CANDIDATE, Actor.ENGINE,
                                            held[0], cooldown_until=held[1])
                return
            await self._desk.propose(workflow_id, proposal, strategy)

    def _next_scan(self) -> datetime:
        return self._clock.now() + timedelta(minutes=self._settings.config.scan_interval_minutes)
