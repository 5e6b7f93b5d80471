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
from tastydesk.engine.domain.ids import ExternalOrderId, ProposalId, WorkflowId
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
class AssignmentRisk:
    """How exposed a short option leg is to assignment now.

    ``distance_pct`` is how far the underlying is from the strike on the safe side, as a
    percentage of the underlying (negative: in the money); ``extrinsic`` is the leg's mid less
    its intrinsic value (None without quotes); the ex-dividend facts are those of the underlying
    (None for non-payers).
    """

    option_type: OptionType
    in_the_money: bool
    distance_pct: float
    intrinsic: Decimal
    extrinsic: Decimal | None
    dte: int
    days_to_ex_dividend: int | None = None
    dividend: Decimal | None = None

    @property
    def dividend_exposed(self) -> bool:
        """A short call whose time value is below the coming dividend: the holder gains by
        exercising before the ex-date."""
        return (self.option_type is OptionType.CALL and self.in_the_money
                and self.dividend is not None and self.dividend > 0
                and self.extrinsic is not None and self.extrinsic < self.dividend
                and self.days_to_ex_dividend is not None and self.days_to_ex_dividend >= 0)

    def describe(self) -> str:
        parts = ["ITM" if self.in_the_money else f"OTM {self.distance_pct:.1f}%"]
        if self.extrinsic is not None:
            parts.append(f"extrinsic {self.extrinsic:.2f}")
        if self.days_to_ex_dividend is not None and self.dividend:
            parts.append(f"ex-div {self.dividend} in {self.days_to_ex_dividend}d")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class PositionLegView:
    symbol: str
    option_type: OptionType | None  # None: shares delivered by an assignment
    strike: Decimal
    expiry: date | None
    quantity: int  # signed (shares for a share leg)
    entry_price: Decimal  # per share, unsigned
    mark: Decimal | None
    delta: float | None
    multiplier: int = 100
    risk: AssignmentRisk | None = None  # short option legs only


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
    # The order chain (entry, rolls, closes so far), as on tastytrade's order-chain view: $
    # received and paid (both positive), fees, P&L realised on legs rolled away (after fees).
    chain_credits: Decimal = Decimal("0")
    chain_debits: Decimal = Decimal("0")
    chain_fees: Decimal = Decimal("0")
    chain_rolls: int = 0
    days_held: int = 0


@dataclass(frozen=True, slots=True)
class OrderView:
    external_id: ExternalOrderId
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
class FillQualityStats:
    """Fill quality of one symbol's or one strategy's fills."""

    name: str
    fills: int
    avg_fill_vs_mid: Decimal  # $ per spread unit, + better than mid
    spread_share_conceded: float | None  # 0 at mid, 1 at natural


@dataclass(frozen=True, slots=True)
class AnalyticsView:
    orders_sent: int = 0
    orders_filled: int = 0
    price_improvement_steps: int = 0
    avg_fill_vs_mid: Decimal = Decimal("0")  # $ per spread, + better than the mid at the fill
    spread_share_conceded: float | None = None  # of the spread, over every recorded fill
    fill_quality_by_symbol: tuple[FillQualityStats, ...] = ()
    fill_quality_by_strategy: tuple[FillQualityStats, ...] = ()
    time_in_state_s: dict[str, float] = field(default_factory=dict)
    by_strategy: tuple[StrategyStats, ...] = ()
    equity_curve: tuple[tuple[datetime, float], ...] = ()

    @property
    def fill_rate(self) -> float:
        return self.orders_filled / self.orders_sent if self.orders_sent else 0.0
