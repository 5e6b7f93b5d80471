"""Read-only snapshots the engine hands to the UI: plain frozen data, recomputed by the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from tastydesk.engine.domain.enums import (
    Bias,
    Mode,
    OptionType,
    OrderStatus,
    RuleAction,
    RuleType,
    StreamHealth,
    WorkflowState,
)
from tastydesk.engine.domain.ids import ProposalId, WorkflowId
from tastydesk.engine.domain.proposal import TradeProposal


@dataclass(frozen=True, slots=True)
class WorkflowView:
    workflow_id: WorkflowId
    symbol: str
    strategy_name: str | None
    state: WorkflowState
    created_at: datetime
    updated_at: datetime
    last_reason: str = ""
    proposal_id: ProposalId | None = None
    bias: Bias | None = None
    cooldown_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingView:
    workflow_id: WorkflowId
    proposal_id: ProposalId
    proposal: TradeProposal
    created_at: datetime
    expires_at: datetime | None
    in_flight: bool = False  # an approval is being processed
    returned: str = ""  # why the trader's last approval came back (the market moved past it)


@dataclass(frozen=True, slots=True)
class RuleStatus:
    index: int
    rule_type: RuleType
    action: RuleAction
    threshold: Decimal
    current: float | None  # the rule's measure now, same unit as threshold
    distance: float | None  # how far from triggering (>0: not yet; <=0: condition holds)
    triggered: bool
    enabled: bool
    auto: bool
    description: str


@dataclass(frozen=True, slots=True)
class PositionLegView:
    symbol: str
    option_type: OptionType
    strike: Decimal
    expiry: date
    quantity: int  # signed
    entry_price: Decimal  # per share, unsigned
    mark: Decimal | None
    delta: float | None


@dataclass(frozen=True, slots=True)
class PositionView:
    workflow_id: WorkflowId
    symbol: str
    strategy_name: str
    state: WorkflowState
    quantity: int  # spread units still open
    entry_price: Decimal  # signed per spread: credit +
    mark: Decimal | None  # signed cost to close per spread, same convention as entry
    pnl: Decimal  # $ unrealised
    pnl_pct: float  # % of max profit captured (negative: loss as % of entry)
    max_profit: Decimal
    max_loss: Decimal
    dte: int
    delta: float
    theta: float
    vega: float
    legs: tuple[PositionLegView, ...]
    rules: tuple[RuleStatus, ...]
    health: str  # "ok" | "warn" | "danger"
    rules_paused: bool = False
    opened_at: datetime | None = None
    realised_pnl: Decimal = Decimal("0")


@dataclass(frozen=True, slots=True)
class OrderView:
    external_id: str
    workflow_id: WorkflowId
    symbol: str
    purpose: str
    status: OrderStatus
    price: Decimal
    quantity: int
    filled_quantity: int
    attempt: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PortfolioView:
    beta_weighted_delta: float = 0.0
    theta: float = 0.0
    vega: float = 0.0
    buying_power_used: Decimal = Decimal("0")
    buying_power_limit: Decimal = Decimal("0")
    net_liquidating_value: Decimal = Decimal("0")
    pnl_today: Decimal = Decimal("0")
    realised_pnl: Decimal = Decimal("0")
    open_positions: int = 0
    breached: bool = False
    breach_reason: str = ""


@dataclass(frozen=True, slots=True)
class HealthView:
    mode: Mode
    automation_armed: bool
    reconciled: bool
    reconcile_detail: str
    streams: dict[str, StreamHealth] = field(default_factory=dict)
    quote_age_s: float | None = None
    events_per_s: float = 0.0
    clock_speed: float = 1.0
    clock_now: datetime | None = None
    market_open: bool = False
    errors_by_category: dict[str, int] = field(default_factory=dict)
    pending_count: int = 0
    open_positions: int = 0
    login_required: bool = False


@dataclass(frozen=True, slots=True)
class StrategyStats:
    strategy_name: str
    trades: int
    wins: int
    realised_pnl: Decimal

    @property
    def win_rate(self) -> float:
        return self.wins / self.trades if self.trades else 0.0


@dataclass(frozen=True, slots=True)
class AnalyticsView:
    orders_sent: int = 0
    orders_filled: int = 0
    price_improvement_steps: int = 0
    avg_fill_vs_mid: Decimal = Decimal("0")  # $ per spread, + means better than the first mid
    time_in_state_s: dict[str, float] = field(default_factory=dict)
    by_strategy: tuple[StrategyStats, ...] = ()
    equity_curve: tuple[tuple[datetime, float], ...] = ()

    @property
    def fill_rate(self) -> float:
        return self.orders_filled / self.orders_sent if self.orders_sent else 0.0
