"""Persisted facts as plain immutable values: what the store returns, never its ORM rows.

Times are timezone-aware UTC; money is Decimal (prices signed as tastytrade signs them where the
field says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.enums import (
    Actor,
    Decision,
    ErrorCategory,
    OrderAction,
    OrderPurpose,
    OrderStatus,
    ProposalStatus,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId, ProposalId, WorkflowId
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.domain.proposal import TradeProposal


@dataclass(frozen=True, slots=True)
class WorkflowRecord:
    id: WorkflowId
    symbol: str
    strategy_name: str | None
    state: WorkflowState
    version: int  # number of stored transitions, creation included
    created_at: datetime
    updated_at: datetime
    cooldown_until: datetime | None = None
    rules_paused: bool = False
    rule_overrides: Mapping[str, Any] = field(default_factory=dict)
    proposal_id: ProposalId | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """One row of the append-only transition log. The creation row has no trigger or source."""

    id: int
    workflow_id: WorkflowId
    seq: int
    from_state: WorkflowState | None
    to_state: WorkflowState
    trigger: Trigger | None
    actor: Actor
    reason: str
    payload: Mapping[str, Any]
    time: datetime


@dataclass(frozen=True, slots=True)
class TransitionRequest:
    """One transition for :meth:`Store.transition_many` (group commit)."""

    workflow_id: WorkflowId
    trigger: Trigger
    actor: Actor
    reason: str
    now: datetime
    payload: Mapping[str, Any] | None = None
    updates: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProposalRecord:
    id: ProposalId
    workflow_id: WorkflowId
    proposal: TradeProposal
    status: ProposalStatus
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    id: int
    proposal_id: ProposalId
    decision: Decision
    user: str
    reason: str
    time: datetime
    price: Decimal | None = None
    quantity: int | None = None


@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: int
    workflow_id: WorkflowId
    proposal_id: ProposalId | None
    purpose: OrderPurpose
    external_id: ExternalOrderId
    broker_order_id: BrokerOrderId | None
    status: OrderStatus
    price: Decimal  # signed: credit +, debit -
    quantity: int
    filled_quantity: int
    attempt: int
    underlying: str
    legs: tuple[OrderLeg, ...]
    created_at: datetime
    updated_at: datetime
    reject_reason: str | None = None
    fees: Decimal | None = None  # the broker's fee figure for the whole order (dry run)
    time_in_force: TimeInForce = TimeInForce.DAY


@dataclass(frozen=True, slots=True)
class OrderEventRecord:
    id: int
    order_id: int
    status: OrderStatus
    broker_order_id: BrokerOrderId | None
    price: Decimal | None
    filled_quantity: int | None
    detail: str
    time: datetime
    mid: Decimal | None = None  # the spread's mid per unit at a fill (fill quality)
    natural: Decimal | None = None


@dataclass(frozen=True, slots=True)
class FillRecord:
    id: int
    fill_id: str
    order_id: int
    workflow_id: WorkflowId
    symbol: str
    action: OrderAction
    quantity: int
    price: Decimal  # per share, unsigned leg price
    time: datetime


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """One leg held by one workflow. ``quantity`` is signed: short negative."""

    id: int
    workflow_id: WorkflowId
    symbol: str
    quantity: int
    avg_open_price: Decimal  # per share, unsigned
    opened_at: datetime
    closed_at: datetime | None
    realised_pnl: Decimal  # $ for the closed part, contract multiplier applied


@dataclass(frozen=True, slots=True)
class RuleActionRecord:
    id: int
    workflow_id: WorkflowId
    rule_type: str
    action: str
    detail: str
    status: str
    time: datetime


@dataclass(frozen=True, slots=True)
class JournalRecord:
    id: int
    workflow_id: WorkflowId
    strategy: str
    symbol: str
    entry_price: Decimal  # signed per share: credit +, debit -
    exit_price: Decimal  # signed per share as paid/received to close
    fees: Decimal
    realised_pnl: Decimal
    opened_at: datetime
    closed_at: datetime
    duration_s: int
    closing_rule: str


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    actor: str
    action: str
    detail: str
    workflow_id: WorkflowId | None
    time: datetime


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    id: int
    category: ErrorCategory
    message: str
    detail: str
    workflow_id: WorkflowId | None
    time: datetime
