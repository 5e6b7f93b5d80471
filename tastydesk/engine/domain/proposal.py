"""A concrete, priced, risk-measured trade built from a strategy on a live chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from tastydesk.engine.domain.enums import AfterAssignment, Bias, OptionType, Side


@dataclass(frozen=True, slots=True)
class ResolvedLeg:
    symbol: str  # OCC
    streamer_symbol: str
    option_type: OptionType
    side: Side
    strike: Decimal
    expiry: date
    quantity: int  # contracts (ratio x strategy quantity)
    bid: Decimal
    ask: Decimal
    mid: Decimal
    delta: float
    gamma: float
    theta: float
    vega: float
    iv: float
    open_interest: int = 0
    reason: str = ""  # how the strike was chosen


@dataclass(frozen=True, slots=True)
class ShareLeg:
    """Shares in a follow-up proposal (the Equity leg of the order): quantity in shares, prices
    per share, multiplier 1."""

    symbol: str  # the ticker
    side: Side
    quantity: int  # shares, positive
    bid: Decimal
    ask: Decimal
    mid: Decimal


@dataclass(frozen=True, slots=True)
class PnlCurve:
    prices: tuple[float, ...]
    at_expiry: tuple[float, ...]  # $ for the whole position
    today: tuple[float, ...]
    one_sd_low: float
    one_sd_high: float


@dataclass(frozen=True, slots=True)
class PositionGreeks:
    delta: float = 0.0  # shares-equivalent
    gamma: float = 0.0
    theta: float = 0.0  # $ per day
    vega: float = 0.0  # $ per vol point
    beta_weighted_delta: float = 0.0


@dataclass(frozen=True, slots=True)
class TradeProposal:
    strategy_name: str
    underlying: str
    spot: Decimal
    legs: tuple[ResolvedLeg, ...]
    quantity: int  # spread units
    mid_price: Decimal  # signed per spread, per share: credit +, debit -
    natural_price: Decimal  # signed, the price crossing every spread
    max_profit: Decimal  # $ for the whole position
    max_loss: Decimal  # $ for the whole position, positive number
    defined_risk: bool
    breakevens: tuple[Decimal, ...]
    pop: float  # probability of profit at expiry
    touch_probability: float  # of touching any short strike before expiry
    expected_value: Decimal
    risk_reward: float  # max_loss / max_profit
    greeks: PositionGreeks
    buying_power: Decimal  # estimated requirement
    fees: Decimal
    warnings: tuple[str, ...]
    created_at: datetime
    bias: Bias = Bias.NEUTRAL
    confidence: float = 0.0
    rationale: tuple[str, ...] = ()
    iv_rank: Decimal = Decimal("0")
    quote_time: datetime | None = None
    curve: PnlCurve | None = field(default=None, compare=False)
    max_profit_unlimited: bool = False  # upside open: max_profit is a figure at +3 expected moves
    # A follow-up of a position an assignment left holding shares (None: a new trade). Its legs
    # are the order's (closing sides for ``close``); the shares it trades are in ``shares``.
    follow_up: AfterAssignment | None = None
    shares: tuple[ShareLeg, ...] = ()

    @property
    def is_credit(self) -> bool:
        return self.mid_price > 0

    @property
    def expiry(self) -> date:
        return min((leg.expiry for leg in self.legs), default=self.created_at.date())

    @property
    def dte_from(self) -> int:
        return (self.expiry - self.created_at.date()).days


def approval_limit(proposal: TradeProposal) -> Decimal:
    """The limit an approval without a modified price carries: the proposal's natural, the
    worst price it showed (credit positive). The trader who wants a tighter one modifies it."""
    return proposal.natural_price
