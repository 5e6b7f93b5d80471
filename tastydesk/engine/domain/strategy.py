"""The strategy model: legs, DTE range, bias mapping, entry filters, sizing, pricing and rules.

Validation lives in ``tastydesk.engine.strategies.validation``; these types only hold data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tastydesk.engine.domain.enums import (
    AfterAssignment,
    Bias,
    DeltaScope,
    ExecutionPreset,
    ExpiryChoice,
    OptionType,
    RuleAction,
    RuleType,
    SelectionMethod,
    Side,
)


@dataclass(frozen=True, slots=True)
class StrikeSelection:
    method: SelectionMethod
    value: Decimal = Decimal("0")
    reference_leg: int | None = None  # index of the leg LEG_OFFSET / WIDTH measure from


@dataclass(frozen=True, slots=True)
class StrategyLeg:
    option_type: OptionType
    side: Side
    selection: StrikeSelection
    ratio: int = 1
    expiry: ExpiryChoice = ExpiryChoice.STRATEGY
    expiry_offset_days: int = 0


@dataclass(frozen=True, slots=True)
class DteRange:
    min: int
    target: int
    max: int
    prefer_monthly: bool = True


@dataclass(frozen=True, slots=True)
class EntryFilters:
    min_credit: Decimal = Decimal("0")  # per spread, $ per share (e.g. 0.50)
    min_underlying_price: Decimal = Decimal("0")
    iv_rank_min: Decimal = Decimal("0")  # 0..100
    iv_rank_max: Decimal = Decimal("100")
    min_liquidity: int = 0  # tastytrade liquidity rating 0..4
    max_spread_pct: Decimal = Decimal("25")  # widest acceptable bid/ask as % of mid, per leg
    min_open_interest: int = 0
    earnings_blackout_days: int = 0  # skip when earnings fall within N days (0 = off)


@dataclass(frozen=True, slots=True)
class Sizing:
    quantity: int = 1
    max_buying_power: Decimal = Decimal("5000")  # per trade


@dataclass(frozen=True, slots=True)
class PricingSettings:
    """How the strategy's orders are priced (see :mod:`tastydesk.engine.execution_pricing.walk`).

    The walk follows the order's purpose: entries patient, profit-taking and time exits normal,
    protective exits fast; ``entry_preset``, ``exit_preset`` (profit, time and the trader's
    closes, rolls) and ``protective_preset`` (stop loss, delta breach, expiration risk) choose
    another preset per strategy. The entry walk takes the strategy's custom values:
    ``start_offset`` starts it that far from mid in our favour, ``max_attempts`` (> 0) sets its
    number of prices, ``walk_interval_seconds`` (> 0) the time between them and
    ``step_share_pct`` (> 0) the share of the spread each step concedes. (Older files' fixed
    ``step`` and ``interval_seconds`` are read and ignored: prices step by a share of the
    spread.)

    ``resting_exit`` places, once the entry fills, a good-till-cancelled closing limit at the
    profit target, so profit is taken while the app is closed.
    """

    start_offset: Decimal = Decimal("0")  # $ away from mid, in our favour, at the first attempt
    max_attempts: int = 0  # 0: the entry preset's number of prices
    limit_price: Decimal | None = None  # never worse than this (signed: credit +, debit -)
    entry_preset: ExecutionPreset = ExecutionPreset.DEFAULT  # default: patient
    exit_preset: ExecutionPreset = ExecutionPreset.DEFAULT  # default: normal
    protective_preset: ExecutionPreset = ExecutionPreset.DEFAULT  # default: fast
    walk_interval_seconds: int = 0  # entries; 0: the preset's interval
    step_share_pct: int = 0  # entries; 0: even shares reaching natural on the last price
    resting_exit: bool = False  # a GTC closing limit at the profit target, placed with the entry


#: Default confirmation (consecutive evaluations, seconds) by rule type; others (1, 0).
CONFIRMATION: dict[RuleType, tuple[int, int]] = {
    RuleType.STOP_LOSS: (3, 10),
    RuleType.DELTA_BREACH: (3, 10),
}


@dataclass(frozen=True, slots=True)
class ManagementRule:
    rule_type: RuleType
    threshold: Decimal
    action: RuleAction = RuleAction.CLOSE
    priority: int = 1  # lower number wins when several trigger
    enabled: bool = True
    close_pct: int = 100  # 25 / 50 / 75 for partial closes
    delta_scope: DeltaScope = DeltaScope.SHORT_LEG
    hold_evaluations: int = 0  # consecutive evaluations the condition must hold (0: by type)
    hold_seconds: int = -1  # or for this long, whichever first (0: off; -1: by type)
    auto: bool = False  # act without approval
    strike_distance_pct: Decimal = Decimal("0")  # expiration risk: also near the strike (% of spot)

    def __post_init__(self) -> None:
        # Protective exits confirm before acting, so one bad quote never closes a position:
        # stops and delta breaches default to 3 evaluations or 10 s (whichever comes first),
        # other rules act at once.
        evaluations, seconds = CONFIRMATION.get(self.rule_type, (1, 0))
        if self.hold_evaluations <= 0:
            object.__setattr__(self, "hold_evaluations", evaluations)
        if self.hold_seconds < 0:
            object.__setattr__(self, "hold_seconds", seconds)


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    legs: tuple[StrategyLeg, ...]
    dte: DteRange
    biases: frozenset[Bias]
    description: str = ""
    filters: EntryFilters = field(default_factory=EntryFilters)
    sizing: Sizing = field(default_factory=Sizing)
    pricing: PricingSettings = field(default_factory=PricingSettings)
    rules: tuple[ManagementRule, ...] = ()
    priority: int = 1  # lower wins when several strategies serve a bias
    enabled: bool = True
    after_assignment: AfterAssignment = AfterAssignment.CLOSE  # a position left holding shares
    # The after-assignment follow-up may be approved unattended (automation armed): otherwise
    # it waits in the approval queue for the trader.
    after_assignment_auto: bool = False

    @property
    def is_neutral(self) -> bool:
        return self.biases == frozenset({Bias.NEUTRAL})

