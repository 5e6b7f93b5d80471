"""Management-rule evaluation: pure functions over a position's current state.

The engine calls :func:`evaluate` on every market event that touches a monitored position (a leg's
quote or greeks, or the underlying's quote), so this stays allocation-light: no I/O, no logging.
A rule acts once its condition has held for ``hold_evaluations`` consecutive evaluations or for
``hold_seconds`` of clock time, whichever comes first (``hold_seconds`` 0: by evaluations only),
so a single bad tick never closes a position, yet a stop on a quiet quote stream (one quote a
minute) still acts after its seconds instead of waiting minutes for enough quotes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tastydesk.engine.domain.enums import DeltaScope, RuleAction, RuleType
from tastydesk.engine.domain.strategy import ManagementRule
from tastydesk.engine.domain.views import AssignmentRisk, RuleStatus
from tastydesk.engine.execution_pricing.thresholds import loss_pct, profit_captured_pct


@dataclass(slots=True)
class PositionState:
    """Mutable per-position facts the rules read; updated in place by market events."""

    entry_price: float  # signed per spread unit: credit +, debit -
    mark: float | None  # signed value of the open spread per unit, same convention (credit +)
    max_profit_per_unit: float  # $ per spread unit, > 0
    dte: int
    short_leg_delta: float  # largest absolute delta among short legs
    position_delta: float  # per spread unit, in delta units (shares / 100)
    quote_ok: bool = True  # every leg has a fresh quote
    short_risks: tuple[AssignmentRisk, ...] = field(default=())  # per short option leg

    @property
    def pnl_per_unit(self) -> float | None:
        """$ P&L per spread unit (x100): entry credit minus cost to close."""
        if self.mark is None:
            return None
        return (self.entry_price - self.mark) * 100.0


@dataclass(slots=True)
class HoldState:
    count: int = 0
    since: datetime | None = None


def measure(rule: ManagementRule, state: PositionState) -> float | None:
    """The rule's current measure, in the unit of its threshold."""
    kind = rule.rule_type
    if kind in (RuleType.PROFIT_TARGET, RuleType.PARTIAL_CLOSE):
        return profit_captured_pct(state.entry_price, state.mark, state.max_profit_per_unit)
    if kind is RuleType.STOP_LOSS:
        return loss_pct(state.entry_price, state.mark)
    if kind in (RuleType.TIME_EXIT, RuleType.ROLL):
        return float(state.dte)
    if kind is RuleType.EXPIRATION_RISK:
        # days left on the nearest short leg in the money or within the rule's distance
        near = [r.dte for r in state.short_risks
                if r.in_the_money or r.distance_pct <= float(rule.strike_distance_pct)]
        return float(min(near)) if near else None
    if kind is RuleType.EX_DIVIDEND:
        # days to the ex-date of a short call whose time value is below the dividend
        exposed = [r.days_to_ex_dividend for r in state.short_risks
                   if r.dividend_exposed and r.days_to_ex_dividend is not None]
        return float(min(exposed)) if exposed else None
    if kind is RuleType.DELTA_BREACH:
        if rule.delta_scope is DeltaScope.SHORT_LEG:
            return abs(state.short_leg_delta)
        return abs(state.position_delta)
    return None


def distance(rule: ManagementRule, value: float | None) -> float | None:
    """Distance to trigger: > 0 not yet, <= 0 the condition holds."""
    if value is None:
        return None
    threshold = float(rule.threshold)
    if rule.rule_type in (RuleType.TIME_EXIT, RuleType.ROLL, RuleType.EX_DIVIDEND):
        return value - threshold
    if rule.rule_type is RuleType.EXPIRATION_RISK:
        return value - threshold + 1  # fewer than N days left
    return threshold - value


def confirmed(rule: ManagementRule, hold: HoldState, now: datetime) -> bool:
    """Whether a holding condition is confirmed: ``hold_evaluations`` in a row, or
    ``hold_seconds`` (when set) since it first held, whichever comes first."""
    if hold.count >= rule.hold_evaluations:
        return True
    return (rule.hold_seconds > 0 and hold.since is not None
            and (now - hold.since).total_seconds() >= rule.hold_seconds)


def evaluate(
    rules: tuple[ManagementRule, ...],
    state: PositionState,
    holds: list[HoldState],
    now: datetime,
    paused: bool = False,
    spent: frozenset[int] | set[int] = frozenset(),
) -> tuple[list[RuleStatus], int | None]:
    """Evaluate every rule; returns the statuses and the index of the rule that should act now.

    ``holds`` (one per rule) is updated in place. The acting rule is the triggered rule with the
    lowest priority number (ties: table order). Paused positions report but never act; rules in
    ``spent`` (one-shot rules such as a partial close that already ran) report but never act.
    """
    statuses: list[RuleStatus] = []
    best: int | None = None
    best_priority = 1 << 30
    for i, rule in enumerate(rules):
        value = measure(rule, state)
        dist = distance(rule, value)
        holds_now = dist is not None and dist <= 0 and rule.enabled and state.quote_ok
        hold = holds[i]
        if holds_now:
            hold.count += 1
            if hold.since is None:
                hold.since = now
        else:
            hold.count = 0
            hold.since = None
        triggered = holds_now and confirmed(rule, hold, now)
        statuses.append(
            RuleStatus(
                index=i,
                rule_type=rule.rule_type,
                action=rule.action,
                threshold=rule.threshold,
                current=value,
                distance=dist,
                triggered=triggered,
                enabled=rule.enabled,
                auto=rule.auto,
                description=describe(rule),
            )
        )
        if triggered and not paused and i not in spent and rule.priority < best_priority:
            best, best_priority = i, rule.priority
    return statuses, best


@functools.lru_cache(maxsize=4096)
def describe(rule: ManagementRule) -> str:
    t = rule.threshold
    match rule.rule_type:
        case RuleType.PROFIT_TARGET:
            text = f"take profit at {t}% of the credit received"
        case RuleType.STOP_LOSS:
            text = f"stop at a loss of {t}% of the entry price"
        case RuleType.TIME_EXIT:
            text = f"exit at {t} DTE"
        case RuleType.DELTA_BREACH:
            text = f"{rule.delta_scope.value.replace('_', ' ')} |delta| >= {t}"
        case RuleType.PARTIAL_CLOSE:
            text = f"close {rule.close_pct}% at {t}% of the credit received"
        case RuleType.ROLL:
            text = f"roll at {t} DTE"
        case RuleType.EXPIRATION_RISK:
            text = (f"{rule.action.value} a short leg in the money or within "
                    f"{rule.strike_distance_pct}% of its strike with fewer than {t} days left")
        case RuleType.EX_DIVIDEND:
            text = (f"{rule.action.value} a short call whose extrinsic value is below the "
                    f"dividend, {t} days or less before the ex-date")
    if rule.action is RuleAction.ALERT:
        text += " (alert only)"
    return text


def health(statuses: list[RuleStatus]) -> str:
    """Position health colour: danger when a protective rule holds or is within 10 % of firing."""
    level = "ok"
    for s in statuses:
        if not s.enabled or s.distance is None:
            continue
        protective = s.rule_type in (RuleType.STOP_LOSS, RuleType.DELTA_BREACH, RuleType.TIME_EXIT,
                                     RuleType.EXPIRATION_RISK, RuleType.EX_DIVIDEND)
        if not protective:
            continue
        threshold = abs(float(s.threshold)) or 1.0
        if s.distance <= 0:
            return "danger"
        if s.distance / threshold < 0.25:
            level = "warn"
    return level


def close_quantity(rule: ManagementRule, open_units: int) -> int:
    """Spread units a rule closes: all, or its percentage (at least one).

    A partial close always leaves part of the position open, so on a single unit it closes
    nothing (0): taking the whole position off is a close rule's decision, not this one's.
    """
    if rule.action is RuleAction.PARTIAL_CLOSE or rule.rule_type is RuleType.PARTIAL_CLOSE:
        if open_units < 2:
            return 0
        units = int(Decimal(open_units) * Decimal(rule.close_pct) / 100)
        return max(1, min(open_units - 1, units))
    return open_units
