"""An in-memory engine facade for dock tests: canned views, recorded commands, a real bus.

It has the public API of :class:`tastydesk.engine.facade.EngineFacade` (a test checks that every
public name is here) without any engine component behind it. Queries answer from plain
attributes a test sets (``pending_views``, ``position_views``...); commands are coroutines that
record ``(name, args)`` in ``calls`` and apply the obvious change (a saved strategy is in
``strategies()``, the kill switch changes ``health()``). A test makes a command fail by putting
an exception in ``failures`` under the command's name, and makes the chain refuse a preview with
``preview_error``. Events go through a real :class:`EventBus`, so the UI's bridge and docks
react exactly as they do to the engine.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import SimClock
from tastydesk.engine.config import ConfigChange, EngineConfig
from tastydesk.engine.domain.account import BrokerPosition
from tastydesk.engine.domain.enums import ActionOutcome, Mode, StreamHealth
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
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tests.ui.factories import T0, proposal

SENT = ActionResult(ActionOutcome.SENT)


class FakeFacade:
    """The facade's public API over in-memory state; see the module docstring."""

    def __init__(self, strategies: Sequence[Strategy] = DEFAULT_STRATEGIES) -> None:
        self.bus = EventBus()
        self.clock = SimClock(T0)
        self.wall_clock = SimClock(T0)  # the trader's clock, stepped apart from paper time
        self.mode = Mode.PAPER
        self.read_only: str | None = None  # the real facade's: why it only shows the account
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.failures: dict[str, BaseException] = {}
        self.preview_error: BaseException | None = None
        self.preview_result: TradeProposal = proposal()
        self.roll_preview: RollPreview | None = None  # what preview_roll answers
        self.armed = True
        self.current_config = EngineConfig()
        self.strategy_book: dict[str, Strategy] = {s.name: s for s in strategies}
        self.workflow_views: list[WorkflowView] = []
        self.pending_views: list[PendingView] = []
        self.stream_health: dict[str, StreamHealth] = {}
        self.external_views: list[BrokerPosition] = []
        self.position_views: list[PositionView] = []
        self.watching_positions = False

    # ---- lifecycle
    async def start(self, start_driver: bool = True) -> None:
        self.calls.append(("start", ()))

    async def stop(self) -> None:
        self.calls.append(("stop", ()))

    # ---- queries
    def config(self) -> EngineConfig:
        return self.current_config

    def strategies(self) -> list[Strategy]:
        return list(self.strategy_book.values())

    def workflows(self) -> list[WorkflowView]:
        return list(self.workflow_views)

    def pending(self) -> list[PendingView]:
        return list(self.pending_views)

    def positions(self) -> list[PositionView]:
        return list(self.position_views)

    def orders(self, open_only: bool = False) -> list[OrderView]:
        return []

    def transitions(self, workflow_id: WorkflowId | None = None,
                    limit: int = 500) -> list[TransitionRecord]:
        return []

    def decisions(self, limit: int = 500) -> list[DecisionRecord]:
        return []

    def rule_actions(self, workflow_id: WorkflowId | None = None) -> list[RuleActionRecord]:
        return []

    def journal(self) -> list[JournalRecord]:
        return []

    def audit_log(self, limit: int = 500) -> list[AuditRecord]:
        return []

    def errors(self, limit: int = 500) -> list[ErrorRecord]:
        return []

    def portfolio(self) -> PortfolioView:
        return PortfolioView(open_positions=len(self.position_views))

    def health(self) -> HealthView:
        return HealthView(mode=self.mode, automation_armed=self.armed, reconciled=True,
                          reconcile_detail="", clock_now=self.clock.now(),
                          pending_count=len(self.pending_views),
                          open_positions=len(self.position_views),
                          streams=dict(self.stream_health))

    def analytics(self) -> AnalyticsView:
        return AnalyticsView()

    # ---- view subscriptions
    def watch_positions(self, wanted: bool = True) -> None:
        self.watching_positions = wanted

    # ---- commands
    async def _command(self, name: str, *args: Any) -> None:
        await asyncio.sleep(0)  # a real suspension point, like a write on the store's thread
        self.calls.append((name, args))
        failure = self.failures.pop(name, None)
        if failure is not None:
            raise failure

    def called(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of every call of command ``name``, in order."""
        return [args for n, args in self.calls if n == name]

    async def scan_now(self, symbols: Sequence[str] | None = None) -> None:
        await self._command("scan_now", symbols)

    async def approve(self, workflow_id: WorkflowId, user: str, price: Decimal | None = None,
                      quantity: int | None = None) -> ActionResult:
        await self._command("approve", workflow_id, user, price, quantity)
        self.pending_views = [v for v in self.pending_views if v.workflow_id != workflow_id]
        return SENT

    async def reject(self, workflow_id: WorkflowId, user: str, reason: str) -> None:
        await self._command("reject", workflow_id, user, reason)
        self.pending_views = [v for v in self.pending_views if v.workflow_id != workflow_id]

    async def close_position(self, workflow_id: WorkflowId, user: str,
                             pct: int = 100) -> ActionResult:
        await self._command("close_position", workflow_id, user, pct)
        return SENT

    async def roll_position(self, workflow_id: WorkflowId, user: str,
                            edits: RollEdits | None = None) -> ActionResult:
        await self._command("roll_position", workflow_id, user, edits)
        return SENT

    async def preview_roll(self, workflow_id: WorkflowId, edits: RollEdits | None = None) -> RollPreview:
        await self._command("preview_roll", workflow_id, edits)
        if self.roll_preview is None:
            raise EngineError(f"workflow: no open position for workflow #{workflow_id}")
        return self.roll_preview

    async def cancel_workflow(self, workflow_id: WorkflowId, user: str, reason: str) -> None:
        await self._command("cancel_workflow", workflow_id, user, reason)

    async def preview(self, strategy: Strategy, symbol: str) -> TradeProposal:
        await self._command("preview", strategy, symbol)
        error, self.preview_error = self.preview_error, None
        if error is not None:
            raise error
        return dataclasses.replace(self.preview_result, strategy_name=strategy.name,
                                   underlying=symbol)

    async def external_positions(self) -> list[BrokerPosition]:
        await self._command("external_positions")
        return list(self.external_views)

    async def adopt_position(self, symbols: Sequence[str], strategy_name: str,
                             user: str) -> WorkflowId:
        await self._command("adopt_position", tuple(symbols), strategy_name, user)
        return WorkflowId(1)

    async def set_rules_paused(self, workflow_id: WorkflowId, paused: bool, user: str) -> None:
        await self._command("set_rules_paused", workflow_id, paused, user)
        self.position_views = [dataclasses.replace(v, rules_paused=paused)
                               if v.workflow_id == workflow_id else v
                               for v in self.position_views]

    async def set_rule_threshold(self, workflow_id: WorkflowId, rule_index: int, threshold: Decimal,
                                 user: str) -> None:
        await self._command("set_rule_threshold", workflow_id, rule_index, threshold, user)

    async def set_automation(self, armed: bool, user: str) -> None:
        await self._command("set_automation", armed, user)
        self.armed = armed

    async def update_config(self, config: EngineConfig, user: str) -> None:
        await self._command("update_config", config, user)
        self.current_config = config
        self.bus.publish(ConfigChange(config))

    async def remember_account(self, env: str, account_number: str, user: str) -> None:
        await self._command("remember_account", env, account_number, user)

    def reconcile_differences(self) -> list[Any]:
        return []

    async def decide_difference(self, symbol: str, action: Any, user: str) -> None:
        await self._command("decide_difference", symbol, action, user)

    async def save_strategy(self, strategy: Strategy, user: str) -> None:
        await self._command("save_strategy", strategy, user)
        self.strategy_book[strategy.name] = strategy

    async def delete_strategy(self, name: str, user: str) -> None:
        await self._command("delete_strategy", name, user)
        self.strategy_book.pop(name, None)

    async def restore_default_strategies(self, user: str) -> None:
        await self._command("restore_default_strategies", user)
        self.strategy_book.update({s.name: s for s in DEFAULT_STRATEGIES})
