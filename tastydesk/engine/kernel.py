"""The kernel: composes the engine's components and runs them on one asyncio loop.

Each component owns its state behind a narrow API; collaborators are passed in at construction
(the few upward notifications, such as "a rule is due", are callbacks wired here), and changes
are announced on the bus. Market and account events arrive on the bus synchronously; handlers do
the cheap part inline (rule checks on quotes) and hand anything that touches the broker or the
store to supervised tasks, serialised per workflow by the workflow book's locks.

Order safety: the intent with its external identifier is committed before sending; a dry run
precedes every order; an unknown outcome is looked up, never re-sent; on start-up every open order
and every EXECUTING/CLOSING workflow is reconciled with the broker before automation is armed.
"""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

from tastydesk.engine.approvals.desk import ApprovalDesk
from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus, Subscription
from tastydesk.engine.clock import Clock, MarketCalendar
from tastydesk.engine.config import ConfigChange, EngineConfig
from tastydesk.engine.domain.enums import AlertCategory, AlertLevel, ErrorCategory, Mode, StreamHealth
from tastydesk.engine.domain.events import Alert, ConnectionChanged, StreamGap
from tastydesk.engine.domain.ids import ProposalId, WorkflowId
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.facade import EngineFacade
from tastydesk.engine.lifecycle.booking import LifecycleBook
from tastydesk.engine.lifecycle.followup import AssignmentFollowUps
from tastydesk.engine.orders.manager import OrderManager
from tastydesk.engine.orders.resting import RestingExits
from tastydesk.engine.ports import BrokerPort, TimeDriver
from tastydesk.engine.positions.actions import PositionActions
from tastydesk.engine.positions.book import PositionBook
from tastydesk.engine.positions.settlement import Settlement
from tastydesk.engine.readiness import Readiness
from tastydesk.engine.readmodel.history import History
from tastydesk.engine.readmodel.views import ReadModel
from tastydesk.engine.reconcile import Reconciler
from tastydesk.engine.reconcile_gate import ReconcileCleared
from tastydesk.engine.risk.portfolio import PortfolioRisk
from tastydesk.engine.scanning.candidates import CandidateBuilder
from tastydesk.engine.scanning.scanner import Scanner
from tastydesk.engine.settings import Settings
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.strategies.library import StrategyLibrary
from tastydesk.engine.subscriptions import StreamClaims
from tastydesk.engine.tasks import TaskSupervisor
from tastydesk.engine.workflow.book import WorkflowBook
from tastydesk.engine.workflow.common import HOLDING

INDEX = "SPY"  # always streamed: beta weighting is in SPY-equivalent shares


class Kernel:
    def __init__(self, *, broker: BrokerPort, store: AsyncStore, bus: EventBus, clock: Clock,
                 calendar: MarketCalendar, config: EngineConfig, strategies: list[Strategy],
                 driver: TimeDriver | None = None, wall: Clock | None = None,
                 read_only: str | None = None) -> None:
        self.broker = broker
        # Why this kernel only shows the account (see tastydesk.engine.readonly); None when
        # it trades.
        self.read_only = read_only
        self.store = store
        self.bus = bus
        self.clock = clock
        # The trader's clock: approval windows run on it whatever the paper speed (a headless
        # simulation has no trader, so by default it is the engine clock).
        self.wall = wall or clock
        self.calendar = calendar
        self.mode: Mode = broker.mode
        self.driver = driver
        self.counters: Counter[str] = Counter()
        self.tasks = TaskSupervisor(on_error=self._task_failed)
        spawn = self.tasks.spawn
        common: dict[str, Any] = {"bus": bus, "clock": clock}
        self.audit = AuditTrail(store, bus, clock)
        self.settings = Settings(config, store, self.audit, bus, clock)
        self.readiness = Readiness()
        self.strategies = StrategyLibrary(strategies, store, self.audit, bus, clock)
        self.book = WorkflowBook(store, bus, clock, self.counters)
        self.streams = StreamClaims(broker, spawn)
        self.positions = PositionBook(
            book=self.book, broker=broker, store=store, settings=self.settings,
            strategies=self.strategies, streams=self.streams, spawn=spawn,
            counters=self.counters, on_change=self._positions_changed,
            on_rule_due=self._rule_due, **common)
        self.risk = PortfolioRisk(exposures=self.positions, settings=self.settings,
                                  calendar=calendar, **common)
        self.settlement = Settlement(book=self.book, positions=self.positions, store=store,
                                     settings=self.settings, spawn=spawn,
                                     counters=self.counters, calendar=calendar,
                                     continue_exit=self._continue_exit,
                                     requeue_exit=self._requeue_exit,
                                     rest_exit=self._rest_exit, **common)
        self.orders = OrderManager(broker=broker, store=store, book=self.book,
                                   settings=self.settings, strategies=self.strategies,
                                   outcomes=self.settlement, streams=self.streams, spawn=spawn,
                                   counters=self.counters, **common)
        self.resting = RestingExits(orders=self.orders, positions=self.positions,
                                    strategies=self.strategies, book=self.book,
                                    readiness=self.readiness)
        self.candidates = CandidateBuilder(broker=broker, settings=self.settings,
                                           strategies=self.strategies, risk=self.risk,
                                           held_legs=self.positions.held_legs, clock=clock)
        self.desk = ApprovalDesk(book=self.book, candidates=self.candidates, orders=self.orders,
                                 risk=self.risk, broker=broker, store=store, streams=self.streams,
                                 settings=self.settings, strategies=self.strategies,
                                 readiness=self.readiness, spawn=spawn, counters=self.counters,
                                 wall=self.wall, send_follow_up=self._send_follow_up,
                                 follow_up_ended=self._follow_up_ended, **common)
        self.risk.add_commitments(self.desk.commitments)
        self.risk.add_commitments(self.orders.commitments)
        self.scanner = Scanner(book=self.book, candidates=self.candidates, desk=self.desk,
                               settings=self.settings, readiness=self.readiness, audit=self.audit,
                               calendar=calendar, spawn=spawn, counters=self.counters, **common)
        self.actions = PositionActions(
            book=self.book, positions=self.positions, orders=self.orders,
            candidates=self.candidates, broker=broker, store=store, audit=self.audit,
            strategies=self.strategies, settings=self.settings, risk=self.risk,
            readiness=self.readiness, calendar=calendar, spawn=spawn, counters=self.counters,
            resting=self.resting,
            **common)
        self.followups = AssignmentFollowUps(
            book=self.book, positions=self.positions, orders=self.orders, desk=self.desk,
            broker=broker,
            store=store, strategies=self.strategies, settings=self.settings, calendar=calendar,
            spawn=spawn, counters=self.counters, resting=self.resting, **common)
        self.expirations = LifecycleBook(
            broker=broker, store=store, book=self.book, positions=self.positions,
            settlement=self.settlement, followups=self.followups, resting=self.resting,
            audit=self.audit, spawn=spawn, counters=self.counters, **common)
        self.reconciler = Reconciler(broker=broker, store=store, book=self.book,
                                     orders=self.orders, desk=self.desk, positions=self.positions,
                                     settlement=self.settlement, lifecycle=self.expirations,
                                     followups=self.followups, risk=self.risk,
                                     readiness=self.readiness, audit=self.audit, spawn=spawn,
                                     **common)
        self.history = History(store, bus)
        self.readmodel = ReadModel(book=self.book, desk=self.desk, positions=self.positions,
                                   orders=self.orders, risk=self.risk, history=self.history,
                                   settings=self.settings, readiness=self.readiness,
                                   broker=broker, calendar=calendar, mode=self.mode, **common)
        self.facade = EngineFacade(
            lifecycle=self, settings=self.settings, strategies=self.strategies,
            scanner=self.scanner, desk=self.desk, actions=self.actions, positions=self.positions,
            candidates=self.candidates, readmodel=self.readmodel, bus=bus, clock=clock,
            wall=self.wall, mode=self.mode, gate=self.reconciler.gate, read_only=read_only)
        self._subscriptions: list[Subscription] = []
        self._started = False

    # ---- wiring callbacks
    def _positions_changed(self) -> None:
        self.risk.mark_dirty()

    def _rule_due(self, mon: Any, rule_index: int) -> None:
        self.actions.rule_due(mon, rule_index)

    async def _send_follow_up(self, workflow_id: WorkflowId, proposal_id: ProposalId, proposal: Any,
                              limit: Any, user: str) -> Any:
        return await self.followups.send(workflow_id, proposal_id, proposal, limit, user)

    def _follow_up_ended(self, workflow_id: WorkflowId, reason: str, returned: bool) -> None:
        self.followups.ended(workflow_id, reason, returned)

    async def _continue_exit(self, workflow_id: WorkflowId, purpose: Any) -> bool:
        return await self.actions.continue_exit(workflow_id, purpose)

    async def _rest_exit(self, workflow_id: WorkflowId) -> None:
        await self.resting.place(workflow_id)

    def _requeue_exit(self, workflow_id: WorkflowId, purpose: Any, units: int, rule: str,
                      at: Any) -> None:
        self.actions.requeue_exit(workflow_id, purpose, units, rule, at)

    # ---- lifecycle
    async def start(self, start_driver: bool = True) -> None:
        """Connect, load, reconcile with the broker, then arm the schedulers (read-only: load
        what the account holds to show it, and nothing else)."""
        if self.read_only is not None:
            await self._start_read_only()
            return
        await self.broker.connect()
        await self.strategies.load()
        await self.settings.load()
        await self.book.load()
        await self.history.load()
        for component in (self.history, self.readmodel, self.desk, self.positions, self.risk,
                          self.orders, self.scanner, self.expirations, self.followups):
            self._subscriptions += component.subscribe()
        self._subscriptions += [self.bus.subscribe(StreamGap, self._on_gap),
                                self.bus.subscribe(ConnectionChanged, self._on_connection),
                                self.bus.subscribe(ConfigChange, self._on_config),
                                self.bus.subscribe(ReconcileCleared, self._on_reconciled)]
        await self.reconciler.reconcile()  # ReconcileCleared resumes what waited for it
        await self.broker.subscribe(sorted({*self.settings.config.watchlist, INDEX}))
        self.scanner.schedule(first=True)
        self.risk.schedule(self.positions.recheck_new_day)
        self.tasks.spawn(self.history.load_order_figures(), "history-orders")
        # What start-up built (chains, strategies, history, positions loaded while reconciling)
        # lives for the session: kept out of the collector's full passes, which would otherwise
        # pause rule checks for milliseconds.
        gc.freeze()
        self._started = True
        if self.driver is not None and start_driver:
            self.driver.start(self.tasks)

    async def _start_read_only(self) -> None:
        """Load workflows, positions, every order and the history for the views. No broker
        session, no reconciliation, no scan, no rule, no schedule: automation stays disarmed
        and readiness says why."""
        self.settings.hold_disarmed()
        await self.strategies.load()
        await self.book.load()
        await self.history.load()
        for component in (self.history, self.readmodel, self.positions):
            self._subscriptions += component.subscribe()
        for order in await self.store.orders():
            self.orders.adopt_record(order)
        for wf in self.book.all():
            if wf.state in HOLDING:
                await self.positions.load(wf.id)
        self.readiness.mark_failed(f"read-only: {self.read_only}")
        self.tasks.spawn(self.history.load_order_figures(), "history-orders")

    async def stop(self) -> None:
        if self.driver is not None:
            await self.driver.stop()
        for sub in self._subscriptions:
            sub.dispose()
        self._subscriptions.clear()
        self.book.cancel_all_timers()
        self.orders.stop()
        self.scanner.stop()
        self.risk.stop()
        await self.tasks.cancel_all()
        await self.broker.close()
        await self.store.close()

    def _task_failed(self, name: str, exc: BaseException) -> None:
        self.tasks.spawn(self.audit.error(ErrorCategory.TASK, f"{name}: {exc}"), "log-error")
        self.bus.publish(Alert(AlertLevel.ERROR, AlertCategory.ERROR, "Engine error",
                               f"{name}: {exc}", self.clock.now()))

    # ---- events the kernel itself follows
    def _on_reconciled(self, event: ReconcileCleared) -> None:
        """Reconciled (at start-up, on a retry, or once the trader decided the last difference
        the gate held): rolls a restart interrupted carry on, and every position whose strategy
        wants a resting exit gets one that matches what it holds. Nothing of this is sent while
        the gate holds."""
        self.tasks.spawn(self.actions.resume_rolls(), "resume-rolls")
        self.tasks.spawn(self.resting.resume(), "resume-resting-exits")

    def _on_gap(self, event: StreamGap) -> None:
        if event.stream == "account":
            self.orders.resync()

    def _on_connection(self, event: ConnectionChanged) -> None:
        if event.stream == "rest" and event.health is StreamHealth.DISCONNECTED and \
                "login" in event.detail:
            self.readiness.login_required = True
            if self.settings.armed:
                self.tasks.spawn(self.settings.set_automation(False, "engine"), "kill-switch")
            self.bus.publish(Alert(AlertLevel.ERROR, AlertCategory.CONNECTION, "Login required",
                                   event.detail, self.clock.now()))

    def _on_config(self, event: ConfigChange) -> None:
        if "paper_speed" in event.changed and self.mode is Mode.PAPER:
            self.clock.set_speed(event.config.paper_speed)
        if "watchlist" in event.changed and self._started:
            self.tasks.spawn(self.broker.subscribe(sorted({*event.config.watchlist, INDEX})),
                             "subscribe")

