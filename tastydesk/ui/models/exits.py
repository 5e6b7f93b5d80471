"""Where a position's profit target and stop loss fire, in dollars, and how far away they are. The
engine's :class:`PositionView` carries each rule's threshold in the rule's own unit (% of the
credit received for a target, the loss as % of the credit received for a stop). A trader thinks in
P&L dollars, so this module turns them into "the stop fires at a P&L of -$600" and states the
distance left as a share of the whole way from entry (P&L $0) to that level: "99% away" means the
position has covered 1% of the way to its stop. Also the rule wording the Rules table and the
Nearest rule column use: the builder's labels and units ("Stop loss", "loss 200 % of credit
received", "21 DTE").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tastydesk.engine.domain.enums import RuleType
from tastydesk.engine.domain.money import MULTIPLIER
from tastydesk.engine.domain.views import PositionView, RuleStatus
from tastydesk.ui import format as fmt
from tastydesk.ui.models.rules import (
    ACTION_LABELS,
    CREDIT_RECEIVED,
    DAY_RULES,
    RULE_LABELS,
    days,
    format_threshold,
)


@dataclass(frozen=True, slots=True)
class ExitLevel:
    """One exit (target or stop) as a P&L level in dollars and the distance left to it."""

    rule_type: RuleType
    threshold: Decimal  # in the rule's unit (% of the credit received)
    level: Decimal  # signed $ P&L at which the rule fires (target > 0, stop < 0)
    away_pct: float  # distance left as % of the way from P&L 0 to ``level`` (<= 0: reached)

    @property
    def reached(self) -> bool:
        return self.away_pct <= 0

    def label(self) -> str:
        """``target +$42 (50% away)`` / ``stop at −$600 (99% away)``."""
        level = fmt.money(self.level, signed=True, places=0)
        head = f"target {level}" if self.rule_type is RuleType.PROFIT_TARGET else f"stop at {level}"
        if self.reached:
            return f"{head} (reached)"
        return f"{head} ({fmt.pct(self.away_pct)} away)"


def _rule(view: PositionView, rule_type: RuleType) -> RuleStatus | None:
    for rule in view.rules:
        if rule.rule_type is rule_type and rule.enabled and rule.threshold > 0:
            return rule
    return None


def exit_level(view: PositionView, rule_type: RuleType) -> ExitLevel | None:
    """The position's profit target or stop loss as a dollar P&L level; None without one."""
    rule = _rule(view, rule_type)
    if rule is None:
        return None
    if rule_type is RuleType.PROFIT_TARGET:
        level = rule.threshold / 100 * view.max_profit
    else:
        basis = abs(view.entry_price) * MULTIPLIER * view.quantity
        level = -(rule.threshold / 100 * basis)
    if level == 0:
        return None
    away = float((level - view.pnl) / level * 100)
    return ExitLevel(rule_type, rule.threshold, level.quantize(Decimal("0.01")), away)


def progress(view: PositionView) -> float | None:
    """Signed progress: 0..1 toward the profit target, 0..-1 toward the stop loss."""
    exit_ = exit_level(view, RuleType.PROFIT_TARGET if view.pnl >= 0 else RuleType.STOP_LOSS)
    if exit_ is None:
        return None
    done = max(0.0, min(1.0, 1.0 - exit_.away_pct / 100))
    return done if exit_.rule_type is RuleType.PROFIT_TARGET else -done


def exit_label(view: PositionView) -> str:
    """The exit the P&L is heading for: the target while in profit, the stop while in loss."""
    target = exit_level(view, RuleType.PROFIT_TARGET)
    stop = exit_level(view, RuleType.STOP_LOSS)
    first, second = (target, stop) if view.pnl >= 0 else (stop, target)
    chosen = first or second
    return "\u2014" if chosen is None else chosen.label()


def exit_tip(view: PositionView) -> str:
    """Both exits spelled out, and what the bar shows."""
    lines = [f"P&L now {fmt.money(view.pnl, signed=True)}"]
    target = exit_level(view, RuleType.PROFIT_TARGET)
    if target is not None:
        lines.append(f"Profit target: fires at P&L {fmt.money(target.level, signed=True)} "
                     f"({format_threshold(RuleType.PROFIT_TARGET, target.threshold)} "
                     f"{fmt.money(view.max_profit)}); "
                     + _to_go(target, view.pnl))
    stop = exit_level(view, RuleType.STOP_LOSS)
    if stop is not None:
        basis = abs(view.entry_price) * MULTIPLIER * view.quantity
        lines.append(f"Stop loss: fires at P&L {fmt.money(stop.level, signed=True)} "
                     f"({format_threshold(RuleType.STOP_LOSS, stop.threshold)} "
                     f"{fmt.money(basis)}); " + _to_go(stop, view.pnl))
    if target is None and stop is None:
        lines.append("No profit target or stop loss rule")
    lines.append("x% away: the share of the way from P&L $0 to that level still to go. "
                 "The bar fills as the P&L moves toward the target (green) or the stop (red).")
    return "\n".join(lines)


def _to_go(exit_: ExitLevel, pnl: Decimal) -> str:
    if exit_.reached:
        return "reached"
    return (f"{fmt.money(abs(exit_.level - pnl))} to go "
            f"({fmt.pct(exit_.away_pct)} of the way)")


# ---- Rule wording (the builder's labels and units)


def rule_label(rule_type: RuleType) -> str:
    return RULE_LABELS.get(rule_type, str(rule_type))


def action_label(rule: RuleStatus) -> str:
    return ACTION_LABELS.get(rule.action, str(rule.action))


def rule_measure(rule_type: RuleType, value: float | None, compact: bool = False) -> str:
    """A rule's current measure in its threshold's unit: ``12.4 % of credit received``,
    ``46 DTE``, ``2 days left``; a stop's measure is the loss, so a gain reads
    ``gain 3.1 % of credit received``. ``compact`` leaves the unit to the threshold's column:
    ``loss 3.1 %``."""
    if value is None:
        return "\u2014"
    if rule_type in (RuleType.TIME_EXIT, RuleType.ROLL):
        return f"{value:.0f} DTE"
    if rule_type is RuleType.DELTA_BREACH:
        return f"|\u0394| {abs(value):.2f}"
    if rule_type in DAY_RULES:
        return days(value, "left" if rule_type is RuleType.EXPIRATION_RISK else "to ex-date")
    if rule_type is RuleType.STOP_LOSS:
        kind = "loss" if round(value, 1) > 0 else "gain" if round(value, 1) < 0 else "loss"
        return f"{kind} {abs(value):.1f} {'%' if compact else CREDIT_RECEIVED}"
    return f"{fmt.number(value, 1)} {'%' if compact else CREDIT_RECEIVED}"


def rule_distance(rule: RuleStatus, places: int = 1, compact: bool = False) -> str:
    """How far a rule is from firing, in its unit; ``reached`` once its condition holds."""
    d = rule.distance
    if d is None:
        return "\u2014"
    if d <= 0:
        return "reached"
    if rule.rule_type in (RuleType.TIME_EXIT, RuleType.ROLL, *DAY_RULES):
        return days(d)
    if rule.rule_type is RuleType.DELTA_BREACH:
        return f"|\u0394| {d:.2f}"
    return f"{d:.{places}f} {'%' if compact else CREDIT_RECEIVED}"


def relative_distance(rule: RuleStatus) -> float:
    """Distance as a share of the threshold, so rules in different units compare."""
    if rule.distance is None:
        return float("inf")
    return rule.distance / (abs(float(rule.threshold)) or 1.0)


def nearest_rule(view: PositionView) -> RuleStatus | None:
    live = [r for r in view.rules if r.enabled and r.distance is not None]
    return min(live, key=relative_distance) if live else None


def nearest_text(view: PositionView) -> str:
    rule = nearest_rule(view)
    if rule is None:
        return "\u2014"
    if rule.triggered:
        return f"{rule_label(rule.rule_type)}: TRIGGERED"
    if rule.distance is not None and rule.distance <= 0:
        return f"{rule_label(rule.rule_type)}: reached"
    return f"{rule_label(rule.rule_type)}: {rule_distance(rule, 0)} to go"


def rules_tip(view: PositionView) -> str:
    lines = [f"{rule_label(r.rule_type)} at {format_threshold(r.rule_type, r.threshold)}: "
             f"now {rule_measure(r.rule_type, r.current)}, {rule_distance(r)}"
             + ("" if r.enabled else " (off)") for r in view.rules]
    if view.rules_paused:
        lines.append("Rules are paused for this position")
    return "\n".join(lines) or "No management rules"
