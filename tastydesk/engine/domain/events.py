"""Immutable events published on the engine bus. Past tense; every one carries its time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tastydesk.engine.domain.account import Balance, BrokerPosition
from tastydesk.engine.domain.chain import Greeks, Quote
from tastydesk.engine.domain.enums import AlertCategory, AlertLevel, StreamHealth, WorkflowState
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.orders import Fill, OrderSnapshot
from tastydesk.engine.domain.records import (
    AuditRecord,
    DecisionRecord,
    ErrorRecord,
    JournalRecord,
    OrderRecord,
    RuleActionRecord,
    TransitionRecord,
)


@dataclass(frozen=True, slots=True)
class QuoteReceived:
    quote: Quote


@dataclass(frozen=True, slots=True)
class GreeksReceived:
    greeks: Greeks


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    order: OrderSnapshot


@dataclass(frozen=True, slots=True)
class FillReceived:
    fill: Fill


@dataclass(frozen=True, slots=True)
class PositionUpdated:
    position: BrokerPosition


@dataclass(frozen=True, slots=True)
class BalanceUpdated:
    balance: Balance


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    stream: str  # "market" | "account" | "rest"
    health: StreamHealth
    detail: str
    time: datetime


@dataclass(frozen=True, slots=True)
class StreamGap:
    """A stream came back after a gap: consumers must re-sync over REST."""

    stream: str
    time: datetime


@dataclass(frozen=True, slots=True)
class WorkflowChanged:
    workflow_id: WorkflowId
    symbol: str
    state: WorkflowState
    previous: WorkflowState | None
    reason: str
    time: datetime


@dataclass(frozen=True, slots=True)
class RuleTriggered:
    workflow_id: WorkflowId
    rule_type: str
    action: str
    detail: str
    time: datetime


@dataclass(frozen=True, slots=True)
class Alert:
    """Something the trader should see: a notification in the tray / in-app area."""

    level: AlertLevel
    category: AlertCategory
    title: str
    message: str
    time: datetime
    workflow_id: WorkflowId | None = None


@dataclass(frozen=True, slots=True)
class PortfolioRiskChanged:
    beta_weighted_delta: float
    theta: float
    vega: float
    buying_power_used: Decimal
    buying_power_limit: Decimal
    pnl_today: Decimal
    breached: bool
    time: datetime


# ---- records written by the engine: the read model and the docks follow these, not SQLite


@dataclass(frozen=True, slots=True)
class TransitionRecorded:
    record: TransitionRecord


@dataclass(frozen=True, slots=True)
class DecisionRecorded:
    record: DecisionRecord


@dataclass(frozen=True, slots=True)
class RuleActionRecorded:
    record: RuleActionRecord


@dataclass(frozen=True, slots=True)
class JournalRecorded:
    record: JournalRecord


@dataclass(frozen=True, slots=True)
class AuditRecorded:
    record: AuditRecord


@dataclass(frozen=True, slots=True)
class ErrorRecorded:
    record: ErrorRecord


@dataclass(frozen=True, slots=True)
class OrderRecorded:
    """An order's stored state changed; ``price_step`` marks a step of the price walk."""

    record: OrderRecord
    price_step: bool = False


@dataclass(frozen=True, slots=True)
class StrategiesChanged:
    """The strategy library changed (saved, deleted, defaults restored)."""

    names: tuple[str, ...]
    time: datetime
