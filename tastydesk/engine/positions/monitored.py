"""A monitored position: its legs, entry, live marks and rule state, updated by market events."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from tastydesk.engine.domain.chain import parse_occ, streamer_symbol
from tastydesk.engine.domain.enums import OptionType, OrderAction, RuleType, Side
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.lifecycle import OPTION_MULTIPLIER, is_option_symbol
from tastydesk.engine.domain.money import CENT, ZERO
from tastydesk.engine.domain.orders import OrderLeg
from tastydesk.engine.domain.pricer import signed_mid, signed_natural
from tastydesk.engine.domain.strategy import ManagementRule
from tastydesk.engine.domain.views import PositionLegView, PositionView, RuleStatus
from tastydesk.engine.execution_pricing.anomaly import (
    LegQuote,
    QuoteAnomaly,
    quote_anomaly,
)
from tastydesk.engine.lifecycle.risk import assignment_risk
from tastydesk.engine.positions.chain import ChainTotals
from tastydesk.engine.positions.rules import HoldState, PositionState, evaluate, health

#: What a position holding only shares reports as days to expiration: no time rule applies.
NO_EXPIRY_DTE = 9999


@dataclass(slots=True)
class MonitoredLeg:
    """One leg: an option (OCC symbol, multiplier 100) or shares an assignment delivered (the
    ticker, ``option_type`` None, multiplier 1, delta 1; its ``ratio`` counts 100 shares as one
    contract so the per-unit prices of a mixed position add up)."""

    symbol: str  # OCC, or the ticker for shares
    streamer_symbol: str
    option_type: OptionType | None
    strike: Decimal
    expiry: date | None
    quantity: int  # signed, total contracts (shares for a share leg)
    ratio: int  # signed contracts (hundreds of shares) per spread unit (short negative)
    entry_price: Decimal  # per share, unsigned
    multiplier: int = 100
    bid: Decimal | None = None
    ask: Decimal | None = None
    delta: float | None = None
    theta: float | None = None
    vega: float | None = None
    quote_time: datetime | None = None
    float_mid: float | None = None  # for the rules' float math only; prices use bid/ask

    def __post_init__(self) -> None:
        if self.bid is not None and self.ask is not None and self.float_mid is None:
            self.float_mid = (float(self.bid) + float(self.ask)) / 2

    @property
    def is_shares(self) -> bool:
        return self.option_type is None

    @property
    def side(self) -> Side:
        return Side.SELL if self.ratio < 0 else Side.BUY

    @property
    def mid(self) -> Decimal | None:
        return None if self.bid is None or self.ask is None else (self.bid + self.ask) / 2

    @property
    def units(self) -> int:
        """Contracts per spread unit, positive (the pricer's view of the leg)."""
        return abs(self.ratio)

    def quoted(self, bid: Decimal, ask: Decimal, at: datetime | None) -> None:
        self.bid, self.ask, self.quote_time = bid, ask, at
        self.float_mid = (float(bid) + float(ask)) / 2


RECENT_MIDS = 20  # closing mids kept for the failsafe's jump check


@dataclass(slots=True)
class MonitoredPosition:
    workflow_id: WorkflowId
    symbol: str
    strategy_name: str
    legs: list[MonitoredLeg]
    units: int
    max_profit_per_unit: Decimal
    max_loss_per_unit: Decimal
    buying_power_per_unit: Decimal
    rules: tuple[ManagementRule, ...]
    opened_at: datetime
    beta: float = 1.0
    paused: bool = False
    acting: bool = False  # an action (order) is in progress: one at a time
    awaiting: set[int] = field(default_factory=set)  # rules waiting for the trader
    alerted: set[int] = field(default_factory=set)
    holds: list[HoldState] = field(default_factory=list)
    statuses: list[RuleStatus] = field(default_factory=list)
    spot: float | None = None  # the underlying's mid, from its quotes
    ex_dividend: tuple[date, Decimal] | None = None  # the underlying's next ex-date and amount
    realised_pnl: Decimal = ZERO
    today: date | None = None
    retry_after: datetime | None = None  # after a failed close, rules wait before acting again
    spent: set[int] = field(default_factory=set)  # one-shot rules (partial close) already acted
    cached_view: PositionView | None = None  # the latest view, rebuilt when checked
    # The closing order's recent mids (flagged or not) and the current pricing anomaly: quotes
    # that fail the failsafe neither trigger rules nor price orders.
    recent_mids: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_MIDS))
    anomaly: QuoteAnomaly | None = None
    chain: ChainTotals | None = None  # the order chain so far (entry, rolls, partial closes)

    def __post_init__(self) -> None:
        if not self.holds:
            self.holds = [HoldState() for _ in self.rules]

    @property
    def delta_rules(self) -> bool:
        return any(r.rule_type is RuleType.DELTA_BREACH and r.enabled for r in self.rules)

    @property
    def entry_price(self) -> Decimal:
        """Signed per unit (credit +): what opening the spread brought in."""
        return sum((-Decimal(leg.ratio) * leg.entry_price for leg in self.legs), ZERO)

    def _float_mark(self) -> float | None:
        """The mark in floats, for rule thresholds checked on every quote (the hot path)."""
        total = 0.0
        for leg in self.legs:
            if leg.float_mid is None:
                return None
            total -= leg.ratio * leg.float_mid
        return total

    def _quoted(self) -> bool:
        return all(leg.bid is not None and leg.ask is not None for leg in self.legs)

    def mark(self) -> Decimal | None:
        """Signed value per unit at mid (credit +); None while any leg lacks a quote."""
        return signed_mid(self.legs) if self._quoted() else None  # type: ignore[arg-type]

    def natural_close(self) -> Decimal | None:
        """Signed price per unit to close by crossing every spread: a short leg is bought back
        at the ask (pay), a long one sold at the bid (receive)."""
        if not self._quoted():
            return None
        return signed_natural(self.legs, closing=True)  # type: ignore[arg-type]

    def closing_quotes(self) -> list[LegQuote]:
        """The legs as the closing order sees them (a long leg is sold, a short one bought)."""
        return [LegQuote(1 if leg.ratio > 0 else -1, abs(leg.ratio), leg.bid, leg.ask,
                         leg.option_type, leg.strike, leg.expiry) for leg in self.legs]

    def quote_anomaly(self) -> QuoteAnomaly | None:
        """Why the current quotes must not be acted on (a missing quote is the rules' own
        business: they wait for it), or None. Compared with the recent mids before this one."""
        recent = tuple(self.recent_mids)
        if recent and self._quoted():
            recent = recent[:-1]
        found = quote_anomaly(self.closing_quotes(), recent)
        return None if found is QuoteAnomaly.NO_QUOTE else found

    def dte(self, today: date) -> int:
        days = [(leg.expiry - today).days for leg in self.legs if leg.expiry is not None]
        return min(days) if days else NO_EXPIRY_DTE

    def state(self, today: date, now: datetime, max_age_s: float) -> PositionState:
        short_delta = 0.0
        pos_delta = 0.0
        quote_ok = True
        for leg in self.legs:
            if leg.delta is not None:
                if leg.ratio < 0 and not leg.is_shares:
                    short_delta = max(short_delta, abs(leg.delta))
                pos_delta += leg.ratio * leg.delta
            if leg.quote_time is None or (now - leg.quote_time).total_seconds() > max_age_s:
                quote_ok = False
        risks = tuple(r for r in (assignment_risk(leg, self.spot, today, self.ex_dividend)
                                  for leg in self.legs) if r is not None) if self.spot else ()
        return PositionState(
            entry_price=float(self.entry_price),
            mark=self._float_mark(),
            max_profit_per_unit=float(self.max_profit_per_unit),
            dte=self.dte(today),
            short_leg_delta=short_delta,
            position_delta=pos_delta,
            quote_ok=quote_ok,
            short_risks=risks,
        )

    @property
    def holds_shares(self) -> bool:
        return any(leg.is_shares for leg in self.legs)

    def evaluate(self, today: date, now: datetime, max_age_s: float) -> int | None:
        """The index of the rule that acts now, if any. While an assignment has left shares in
        the position the rules only report: the strategy's after-assignment follow-up owns it
        (its option P&L targets no longer describe a position holding stock).

        Quotes that fail the failsafe neither count towards a rule's confirmation nor let it
        act. They are screened only when a rule's condition holds (the common case, nothing
        near firing, stays allocation-free), and every mid joins the recent window, flagged or
        not, so a genuine move passes on the next quote."""
        state = self.state(today, now, max_age_s)
        if state.mark is not None:
            self.recent_mids.append(-state.mark)  # the closing order's mid
        statuses, acting = evaluate(self.rules, state, self.holds, now,
                                    paused=self.paused or self.acting or self.holds_shares,
                                    spent=self.spent)
        self.statuses = statuses
        self.anomaly = None
        if any(hold.count for hold in self.holds):
            self.anomaly = self.quote_anomaly()
            if self.anomaly is not None:
                for hold in self.holds:
                    hold.count, hold.since = 0, None
                return None
        return acting

    def greeks(self) -> tuple[float, float, float]:
        """Position delta (shares), theta ($/day) and vega ($/vol point) for all units."""
        delta = theta = vega = 0.0
        for leg in self.legs:
            n = leg.quantity * leg.multiplier
            delta += (leg.delta or 0.0) * n
            theta += (leg.theta or 0.0) * n
            vega += (leg.vega or 0.0) * n
        return delta, theta, vega

    def view(self, state_name: object, today: date) -> PositionView:
        mark = self.mark()
        entry = self.entry_price
        pnl = ZERO if mark is None else (entry - mark) * 100 * self.units
        max_profit = self.max_profit_per_unit * self.units
        if pnl >= 0 and max_profit > 0:
            pnl_pct = float(pnl / max_profit * 100)
        else:
            basis = abs(entry) * 100 * self.units
            pnl_pct = float(pnl / basis * 100) if basis else 0.0
        delta, theta, vega = self.greeks()
        legs = tuple(
            PositionLegView(
                symbol=leg.symbol, option_type=leg.option_type, strike=leg.strike,
                expiry=leg.expiry, quantity=leg.quantity, entry_price=leg.entry_price,
                mark=None if leg.mid is None else leg.mid.quantize(CENT),
                delta=leg.delta, multiplier=leg.multiplier,
                risk=assignment_risk(leg, self.spot, today, self.ex_dividend),
            )
            for leg in self.legs
        )
        return PositionView(
            workflow_id=self.workflow_id, symbol=self.symbol, strategy_name=self.strategy_name,
            state=state_name,  # type: ignore[arg-type]
            quantity=self.units, entry_price=entry,
            mark=None if mark is None else mark.quantize(CENT),
            pnl=pnl.quantize(Decimal("0.01")), pnl_pct=pnl_pct,
            max_profit=max_profit, max_loss=self.max_loss_per_unit * self.units,
            dte=self.dte(today), delta=delta, theta=theta, vega=vega, legs=legs,
            rules=tuple(self.statuses), health=health(self.statuses), rules_paused=self.paused,
            opened_at=self.chain.opened_at if self.chain else self.opened_at,
            realised_pnl=self.realised_pnl, **self._chain_fields(today),
        )

    def _chain_fields(self, today: date) -> dict[str, object]:
        chain = self.chain
        if chain is None:
            return {}
        return {"chain_credits": chain.credits, "chain_debits": chain.debits,
                "chain_fees": chain.fees, "chain_rolls": chain.rolls,
                "days_held": max(0, (today - chain.opened_at.date()).days)}


def close_legs(mon: MonitoredPosition, units: int) -> tuple[OrderLeg, ...]:
    """The legs closing ``units`` of ``mon`` (see :func:`closing_leg`)."""
    return tuple(closing_leg(leg, units, mon.units) for leg in mon.legs)


def closing_leg(leg: MonitoredLeg, units: int, held_units: int) -> OrderLeg:
    """The order leg closing ``units`` of the ``held_units`` a position holds: an option by
    its contracts per unit, shares by the shares they hold (multiplier 1; their part of them
    for a partial close), never by the ratio that counts 100 shares as one contract for
    pricing. Every path that closes a leg (a close, a split close, a roll) sizes it here."""
    action = OrderAction.BUY_TO_CLOSE if leg.quantity < 0 else OrderAction.SELL_TO_CLOSE
    if leg.is_shares:
        return OrderLeg(leg.symbol, action, abs(leg.quantity) * units // max(1, held_units))
    return OrderLeg(leg.symbol, action, abs(leg.ratio) * units)


def contracts(symbol: str, quantity: int) -> int:
    """A leg's size in contracts: 100 delivered shares count as one contract."""
    if is_option_symbol(symbol):
        return quantity
    return quantity // OPTION_MULTIPLIER if quantity % OPTION_MULTIPLIER == 0 else quantity


def monitored_leg(symbol: str, quantity: int, entry_price: Decimal, base: int) -> MonitoredLeg:
    """A leg from a stored position: an option (OCC symbol) or shares (the ticker)."""
    size = contracts(symbol, quantity)
    ratio = size // base if size % base == 0 else size
    if not is_option_symbol(symbol):
        return MonitoredLeg(symbol=symbol, streamer_symbol=symbol, option_type=None, strike=ZERO,
                            expiry=None, quantity=quantity, ratio=ratio, entry_price=entry_price,
                            multiplier=1, delta=1.0)
    root, expiry, option_type, strike = parse_occ(symbol)
    return MonitoredLeg(symbol=symbol, streamer_symbol=streamer_symbol(root, expiry, option_type,
                                                                       strike),
                        option_type=option_type, strike=strike, expiry=expiry, quantity=quantity,
                        ratio=ratio, entry_price=entry_price)
