"""The engine facade: the only API the desktop UI calls.

A thin, concrete class that delegates to the components (never the kernel itself). Queries are
synchronous and cheap (in-memory projections of the read model); commands are coroutines run on
the one event loop, through the UI's command runner. Changes are announced on ``bus`` with the
events in ``tastydesk.engine.domain.events`` (plus ``ConfigChange``), so views refresh on events
rather than by polling.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.account import BrokerPosition
from tastydesk.engine.domain.enums import Mode
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.records import (
    AuditRecord,
    DecisionRecord,
    ErrorRecord,
    JournalRecord,
    RuleActionRecord,
    TransitionRecord,
)
from tastydesk.engine.domain.results import ActionResult
from tastydesk.engine.domain.rolls import RollEdits, RollPreview
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.domain.views import (
    AnalyticsView,
    HealthView,
    OrderView,
    PendingView,
    PortfolioView,
    PositionView,
    WorkflowView,
)
from tastydesk.engine.errors import EngineError

if TYPE_CHECKING:
    from tastydesk.engine.approvals.desk import ApprovalDesk
    from tastydesk.engine.positions.actions import PositionActions
    from tastydesk.engine.positions.book import PositionBook
    from tastydesk.engine.readmodel.views import ReadModel
    from tastydesk.engine.reconcile_gate import DifferenceAction, LegDifference, ReconcileGate
    from tastydesk.engine.scanning.candidates import CandidateBuilder
    from tastydesk.engine.scanning.scanner import Scanner
    from tastydesk.engine.settings import Settings
    from tastydesk.engine.strategies.library import StrategyLibrary


class Lifecycle(Protocol):
    async def start(self, start_driver: bool = True) -> None: ...

    async def stop(self) -> None: ...


class EngineFacade:
    def __init__(self, *, lifecycle: Lifecycle, settings: Settings, strategies: StrategyLibrary,
                 scanner: Scanner, desk: ApprovalDesk, actions: PositionActions,
                 positions: PositionBook, candidates: CandidateBuilder, readmodel: ReadModel,
                 bus: EventBus, clock: Clock, wall: Clock, mode: Mode,
                 gate: ReconcileGate | None = None, read_only: str | None = None) -> None:
        self._lifecycle = lifecycle
        self._settings = settings
        self._strategies = strategies
        self._scanner = scanner
        self._desk = desk
        self._actions = actions
        self._positions = positions
        self._candidates = candidates
        self._read = readmodel
        self._gate = gate
        self.bus = bus
        self.clock = clock
        # The trader's (real) clock: approval expiry and every countdown shown to the trader
        # run on it, not on the paper clock.
        self.wall_clock = wall
        self.mode = mode
        # Why this engine only shows the account (its files were refused): every command is
        # then refused with this reason, and nothing is written or sent. None: a working engine.
        self.read_only = read_only

    def _writable(self) -> None:
        if self.read_only is not None:
            raise EngineError(f"read-only: {self.read_only}; nothing is written or sent "
                              f"(restore the account or start it anew to trade)")

    # ---- lifecycle
    async def start(self, start_driver: bool = True) -> None:
        """Connect the broker, reconcile with it, then arm the schedulers (and, in paper mode,
        the paper clock unless ``start_driver`` is False: headless runs step time themselves)."""
        await self._lifecycle.start(start_driver)

    async def stop(self) -> None:
        await self._lifecycle.stop()

    # ---- queries
    def config(self) -> EngineConfig:
        return self._settings.config

    def strategies(self) -> list[Strategy]:
        return self._strategies.all()

    def workflows(self) -> list[WorkflowView]:
        return self._read.workflows()

    def pending(self) -> list[PendingView]:
        return self._read.pending()

    def positions(self) -> list[PositionView]:
        return self._read.positions()

    def orders(self, open_only: bool = False) -> list[OrderView]:
        return self._read.orders(open_only)

    def transitions(self, workflow_id: WorkflowId | None = None,
                    limit: int = 500) -> list[TransitionRecord]:
        return self._read.transitions(workflow_id, limit)

    def decisions(self, limit: int = 500) -> list[DecisionRecord]:
        return self._read.decisions(limit)

    def rule_actions(self, workflow_id: WorkflowId | None = None) -> list[RuleActionRecord]:
        return self._read.rule_actions(workflow_id)

    def journal(self) -> list[JournalRecord]:
        return self._read.journal()

    def audit_log(self, limit: int = 500) -> list[AuditRecord]:
        return self._read.audit_log(limit)

    def errors(self, limit: int = 500) -> list[ErrorRecord]:
        return self._read.errors(limit)

    def portfolio(self) -> PortfolioView:
        return self._read.portfolio()

    def health(self) -> HealthView:
        return self._read.health()

    def analytics(self) -> AnalyticsView:
        return self._read.analytics()

    # ---- view subscriptions (commands, not queries)
    def watch_positions(self, wanted: bool = True) -> None:
        """Keep position views current as quotes arrive, while a view shows them."""
        self._positions.watch_views(wanted)

    # ---- commands
    async def scan_now(self, symbols: Sequence[str] | None = None) -> None:
        self._writable()
        await self._scanner.scan_now(symbols)

    async def approve(self, workflow_id: WorkflowId, user: str, price: Decimal | None = None,
                      quantity: int | None = None) -> ActionResult:
        """Approve a pending proposal (optionally with a price or quantity); says what happened.

        Idempotent per proposal: a second call while the first is in flight, or after it was
        sent, sends nothing and says so.
        """
        self._writable()
        return await self._desk.approve(workflow_id, user, price, quantity)

    async def reject(self, workflow_id: WorkflowId, user: str, reason: str) -> None:
        self._writable()
        await self._desk.reject(workflow_id, user, reason)

    async def close_position(self, workflow_id: WorkflowId, user: str, pct: int = 100) -> ActionResult:
        self._writable()
        return await self._actions.close_position(workflow_id, user, pct)

    async def roll_position(self, workflow_id: WorkflowId, user: str,
                            edits: RollEdits | None = None) -> ActionResult:
        """Roll the position: the strategy's selection on a later expiry, or what the trader
        set on the Roll ticket (``edits``); sent through the normal roll order path."""
        self._writable()
        return await self._actions.roll_position(workflow_id, user, edits or RollEdits())

    async def preview_roll(self, workflow_id: WorkflowId,
                           edits: RollEdits | None = None) -> RollPreview:
        """The roll that :meth:`roll_position` with ``edits`` would send now: the new legs, the
        net credit or debit (mid and natural) and the position's risk after it. A query that
        reads the live chain; nothing is saved or sent."""
        return await self._actions.preview_roll(workflow_id, edits or RollEdits())

    async def cancel_workflow(self, workflow_id: WorkflowId, user: str, reason: str) -> None:
        self._writable()
        await self._actions.cancel_workflow(workflow_id, user, reason)

    async def preview(self, strategy: Strategy, symbol: str) -> TradeProposal:
        return await self._candidates.preview(strategy, symbol)

    async def external_positions(self) -> list[BrokerPosition]:
        """Broker positions that no workflow manages (opened outside the app)."""
        return await self._actions.external_positions()

    async def adopt_position(self, symbols: Sequence[str], strategy_name: str,
                             user: str) -> WorkflowId:
        """Monitor legs opened outside the app with a strategy's rules; returns the workflow id."""
        self._writable()
        return await self._actions.adopt_position(symbols, strategy_name, user)

    async def set_rules_paused(self, workflow_id: WorkflowId, paused: bool, user: str) -> None:
        self._writable()
        await self._actions.set_rules_paused(workflow_id, paused, user)

    async def set_rule_threshold(self, workflow_id: WorkflowId, rule_index: int, threshold: Decimal,
                                 user: str) -> None:
        self._writable()
        await self._actions.set_rule_threshold(workflow_id, rule_index, threshold, user)

    async def set_automation(self, armed: bool, user: str) -> None:
        """Kill switch: when disarmed no order is sent by any automated path."""
        self._writable()
        await self._settings.set_automation(armed, user)

    async def update_config(self, config: EngineConfig, user: str) -> None:
        self._writable()
        await self._settings.update_config(config, user)

    async def remember_account(self, env: str, account_number: str, user: str) -> None:
        """Keep the account chosen at login (not a secret) for the next live engine."""
        self._writable()
        await self._settings.remember_account(env, account_number, user)

    def reconcile_differences(self) -> list[LegDifference]:
        """Legs that differ from the broker and hold automation until the trader decides."""
        return self._gate.pending() if self._gate is not None else []

    async def decide_difference(self, symbol: str, action: DifferenceAction, user: str) -> None:
        """Take the broker's view, end the workflow, or leave the difference for later."""
        self._writable()
        if self._gate is None:
            raise ValueError("symbol: this engine has no reconciliation gate")
        await self._gate.decide(symbol, action, user)

    async def save_strategy(self, strategy: Strategy, user: str) -> None:
        """Validate and store a strategy (the field errors are raised when it is invalid)."""
        self._writable()
        await self._strategies.save(strategy, user)

    async def delete_strategy(self, name: str, user: str) -> None:
        self._writable()
        await self._strategies.delete(name, user)

    async def restore_default_strategies(self, user: str) -> None:
        self._writable()
        await self._strategies.restore_defaults(user)
