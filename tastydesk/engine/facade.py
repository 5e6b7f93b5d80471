"""The engine facade: the only API the desktop UI calls.

Queries are synchronous and cheap (in-memory snapshots kept current by the engine); commands are
coroutines scheduled on the one event loop. Changes are announced on ``bus`` with the events in
``tastydesk.engine.domain.events`` (plus ``ConfigChange``), so views refresh on events rather
than by polling.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from decimal import Decimal

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.config import EngineConfig
from tastydesk.engine.domain.account import BrokerPosition
from tastydesk.engine.domain.enums import Mode
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.records import (
    AuditRecord,
    DecisionRecord,
    ErrorRecord,
    JournalRecord,
    RuleActionRecord,
    TransitionRecord,
)
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


class EngineFacade(ABC):
    bus: EventBus
    clock: Clock
    mode: Mode

    # ---- lifecycle
    @abstractmethod
    async def start(self) -> None:
        """Connect the broker, reconcile with it, then arm the schedulers."""

    @abstractmethod
    async def stop(self) -> None: ...

    # ---- queries
    @abstractmethod
    def config(self) -> EngineConfig: ...

    @abstractmethod
    def strategies(self) -> list[Strategy]: ...

    @abstractmethod
    def workflows(self) -> list[WorkflowView]: ...

    @abstractmethod
    def pending(self) -> list[PendingView]: ...

    @abstractmethod
    def positions(self) -> list[PositionView]: ...

    @abstractmethod
    def orders(self, open_only: bool = False) -> list[OrderView]: ...

    @abstractmethod
    def transitions(self, workflow_id: int | None = None, limit: int = 500) -> list[TransitionRecord]: ...

    @abstractmethod
    def decisions(self, limit: int = 500) -> list[DecisionRecord]: ...

    @abstractmethod
    def rule_actions(self, workflow_id: int | None = None) -> list[RuleActionRecord]: ...

    @abstractmethod
    def journal(self) -> list[JournalRecord]: ...

    @abstractmethod
    def audit_log(self, limit: int = 500) -> list[AuditRecord]: ...

    @abstractmethod
    def errors(self, limit: int = 500) -> list[ErrorRecord]: ...

    @abstractmethod
    def portfolio(self) -> PortfolioView: ...

    @abstractmethod
    def health(self) -> HealthView: ...

    @abstractmethod
    def analytics(self) -> AnalyticsView: ...

    # ---- commands
    @abstractmethod
    async def scan_now(self, symbols: Sequence[str] | None = None) -> None: ...

    @abstractmethod
    async def approve(self, workflow_id: int, user: str, price: Decimal | None = None,
                      quantity: int | None = None) -> str:
        """Approve a pending proposal; returns what happened ("sent", "repriced", ...).

        Idempotent per proposal: a second call while the first is in flight, or after it was
        sent, does nothing and says so.
        """

    @abstractmethod
    async def reject(self, workflow_id: int, user: str, reason: str) -> None: ...

    @abstractmethod
    async def close_position(self, workflow_id: int, user: str, pct: int = 100) -> str: ...

    @abstractmethod
    async def roll_position(self, workflow_id: int, user: str) -> str: ...

    @abstractmethod
    async def cancel_workflow(self, workflow_id: int, user: str, reason: str) -> None: ...

    @abstractmethod
    async def preview(self, strategy: Strategy, symbol: str) -> TradeProposal: ...

    @abstractmethod
    async def external_positions(self) -> list[BrokerPosition]:
        """Broker positions that no workflow manages (opened outside the app)."""

    @abstractmethod
    async def adopt_position(self, symbols: Sequence[str], strategy_name: str, user: str) -> int:
        """Monitor legs opened outside the app with a strategy's rules; returns the workflow id."""

    @abstractmethod
    def set_rules_paused(self, workflow_id: int, paused: bool, user: str) -> None: ...

    @abstractmethod
    def set_rule_threshold(self, workflow_id: int, rule_index: int, threshold: Decimal,
                           user: str) -> None: ...

    @abstractmethod
    def set_automation(self, armed: bool, user: str) -> None:
        """Kill switch: when disarmed no order is sent by any automated path."""

    @abstractmethod
    def update_config(self, config: EngineConfig, user: str) -> None: ...

    @abstractmethod
    def remember_account(self, env: str, account_number: str, user: str) -> None:
        """Keep the account chosen at login (not a secret) for the next live engine."""

    @abstractmethod
    def save_strategy(self, strategy: Strategy, user: str) -> None: ...

    @abstractmethod
    def delete_strategy(self, name: str, user: str) -> None: ...

    @abstractmethod
    def restore_default_strategies(self, user: str) -> None: ...
