"""Position Monitor models: positions by workflow, their legs, rule distances, rule actions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.enums import RuleType
from tastydesk.engine.domain.money import MULTIPLIER
from tastydesk.engine.domain.records import RuleActionRecord
from tastydesk.engine.domain.symbols import display_symbol
from tastydesk.engine.domain.views import PositionLegView, PositionView, RuleStatus
from tastydesk.ui import format as fmt
from tastydesk.ui.models.base import CENTER, RIGHT, Column, KeyedTableModel
from tastydesk.ui.models.tree import KeyedTreeModel

HEALTH_TEXT = {"ok": "\u25cf OK", "warn": "\u25b2 Watch", "danger": "\u25a0 Danger"}


def progress(view: PositionView) -> float | None:
    """Signed progress: 0..1 toward the profit target, 0..-1 toward the stop loss."""
    target = _threshold(view, RuleType.PROFIT_TARGET)
    stop = _threshold(view, RuleType.STOP_LOSS)
    if view.pnl_pct >= 0:
        return min(1.0, view.pnl_pct / target) if target else None
    return max(-1.0, view.pnl_pct / stop) if stop else None


def _threshold(view: PositionView, rule_type: RuleType) -> float | None:
    for rule in view.rules:
        if rule.rule_type is rule_type and rule.enabled and rule.threshold > 0:
            return float(rule.threshold)
    return None


def _progress_label(value: float | None) -> str:
    if value is None:
        return "\u2014"
    return f"{abs(value) * 100:.0f}% to {'target' if value >= 0 else 'stop'}"


def _progress_text(view: PositionView) -> str:
    value = progress(view)
    if value is None:
        return f"No profit target / stop rule; P&L {fmt.pct(view.pnl_pct, signed=True)}"
    return (f"{_progress_label(value)} (P&L {fmt.pct(view.pnl_pct, signed=True)} "
            "of max profit / entry)")


def _nearest_rule(view: PositionView) -> RuleStatus | None:
    live = [r for r in view.rules if r.enabled and r.distance is not None]
    return min(live, key=lambda r: r.distance) if live else None


def _nearest_text(view: PositionView) -> str:
    rule = _nearest_rule(view)
    if rule is None:
        return "\u2014"
    if rule.triggered:
        return f"{rule.rule_type} TRIGGERED"
    return f"{rule.rule_type} in {fmt.number(rule.distance, 1)}"


def _rules_tip(view: PositionView) -> str:
    lines = [f"{r.description or r.rule_type}: distance {fmt.number(r.distance, 2)}"
             + (" (paused)" if view.rules_paused else "") for r in view.rules]
    return "\n".join(lines) or "No management rules"


POSITION_COLUMNS: list[Column[PositionView]] = [
    Column("id", "#", lambda v: v.workflow_id, align=RIGHT, width=36),
    Column("symbol", "Symbol", lambda v: v.symbol, width=60),
    Column("strategy", "Strategy", lambda v: v.strategy_name, width=160),
    Column("quantity", "Qty", lambda v: v.quantity, align=RIGHT, width=36),
    Column("entry", "Entry", lambda v: v.entry_price, fmt.price, align=RIGHT, width=70),
    Column("mark", "Mark", lambda v: v.mark, fmt.price, align=RIGHT, width=70,
           header_tip="Cost to close per spread, same sign convention as entry"),
    Column("pnl", "P&L", lambda v: v.pnl, lambda x: fmt.money(x, signed=True), align=RIGHT,
           width=80),
    Column("pnl_pct", "P&L %", lambda v: v.pnl_pct, lambda x: fmt.pct(x, signed=True),
           align=RIGHT, width=56,
           header_tip="% of max profit captured; negative: loss as % of entry"),
    Column("progress", "Target / stop", progress, lambda x: _progress_label(x), width=110,
           sort_key=lambda v: progress(v) or 0.0,
           tooltip=_progress_text),
    Column("dte", "DTE", lambda v: v.dte, align=RIGHT, width=40),
    Column("delta", "\u0394", lambda v: v.delta, lambda x: fmt.number(x, 1), align=RIGHT,
           width=52),
    Column("theta", "\u0398", lambda v: v.theta, lambda x: fmt.number(x, 2), align=RIGHT,
           width=56),
    Column("rules", "Nearest rule", lambda v: _nearest_text(v), width=150,
           sort_key=lambda v: (r.distance if (r := _nearest_rule(v)) else float("inf")),
           tooltip=_rules_tip),
    Column("health", "Health", lambda v: v.health, lambda h: HEALTH_TEXT.get(h, h),
           align=CENTER, width=70,
           sort_key=lambda v: {"ok": 0, "warn": 1, "danger": 2}.get(v.health, 3),
           tooltip=lambda v: "Rules paused" if v.rules_paused else f"Health: {v.health}"),
]


LegOf = tuple[PositionView, PositionLegView]


def _leg_pnl(pair: LegOf) -> Decimal | None:
    _, leg = pair
    if leg.mark is None:
        return None
    return (leg.mark - leg.entry_price) * leg.quantity * MULTIPLIER


def _leg_dte(pair: LegOf) -> int:
    # The position's DTE is its front leg's; later legs (calendars) add their distance to it.
    view, leg = pair
    front = min(x.expiry for x in view.legs)
    return view.dte + (leg.expiry - front).days


def _leg_delta(pair: LegOf) -> float | None:
    _, leg = pair
    return None if leg.delta is None else leg.delta * leg.quantity * float(MULTIPLIER)


def _leg_tip(pair: LegOf) -> str:
    _, leg = pair
    return (f"{leg.quantity:+d} {leg.option_type} {leg.strike:,.2f} expiring "
            f"{leg.expiry.isoformat()}; delta per contract {fmt.number(leg.delta, 3)}")


#: What a leg shows under its position's columns (the rest stay empty on leg rows).
POSITION_LEG_CHILD_COLUMNS: dict[str, Column[LegOf]] = {
    "symbol": Column("symbol", "Symbol",
                     lambda p: f"{format(p[1].strike.normalize(), ',f')} "
                               f"{str(p[1].option_type)[:1].upper()}",
                     sort_key=lambda p: (p[1].strike, str(p[1].option_type)), tooltip=_leg_tip),
    "strategy": Column("strategy", "Strategy", lambda p: display_symbol(p[1].symbol),
                       tooltip=_leg_tip),
    "quantity": Column("quantity", "Qty", lambda p: p[1].quantity, lambda q: f"{q:+d}",
                       align=RIGHT),
    "entry": Column("entry", "Entry", lambda p: p[1].entry_price, lambda x: f"{x:.2f}",
                    align=RIGHT),
    "mark": Column("mark", "Mark", lambda p: p[1].mark,
                   lambda x: "\u2014" if x is None else f"{x:.2f}", align=RIGHT),
    "pnl": Column("pnl", "P&L", _leg_pnl, lambda x: fmt.money(x, signed=True), align=RIGHT),
    "dte": Column("dte", "DTE", _leg_dte, align=RIGHT),
    "delta": Column("delta", "\u0394", _leg_delta, lambda x: fmt.number(x, 1), align=RIGHT),
}


def positions_model(parent: Any = None) -> KeyedTreeModel[PositionView, PositionLegView]:
    """Positions by workflow, each with its legs as child rows."""
    return KeyedTreeModel(POSITION_COLUMNS, key=lambda v: v.workflow_id,
                          children=lambda v: v.legs, child_columns=POSITION_LEG_CHILD_COLUMNS,
                          parent=parent)


RULE_COLUMNS: list[Column[RuleStatus]] = [
    Column("rule", "Rule", lambda r: str(r.rule_type), width=100,
           tooltip=lambda r: r.description or None),
    Column("action", "Action", lambda r: str(r.action), width=80),
    Column("threshold", "Threshold", lambda r: r.threshold, lambda x: f"{x:g}", align=RIGHT),
    Column("current", "Now", lambda r: r.current, lambda x: fmt.number(x, 2), align=RIGHT),
    Column("distance", "Distance", lambda r: r.distance, lambda x: fmt.number(x, 2),
           align=RIGHT, header_tip="How far from triggering (<= 0: the condition holds)"),
    Column("state", "State", lambda r: ("TRIGGERED" if r.triggered else
                                        "on" if r.enabled else "off")
           + (" \u00b7 auto" if r.auto else ""), width=90),
]


def rules_model(parent: Any = None) -> KeyedTableModel[RuleStatus]:
    return KeyedTableModel(RULE_COLUMNS, key=lambda r: r.index, parent=parent)


RULE_ACTION_COLUMNS: list[Column[RuleActionRecord]] = [
    Column("time", "When", lambda a: a.time, fmt.timestamp,
           sort_key=lambda a: a.time.timestamp(), width=140),
    Column("workflow", "#", lambda a: a.workflow_id, align=RIGHT, width=36),
    Column("rule", "Rule", lambda a: a.rule_type, width=100),
    Column("action", "Action", lambda a: a.action, width=90),
    Column("status", "Status", lambda a: a.status, width=80),
    Column("detail", "Detail", lambda a: a.detail, tooltip=lambda a: a.detail or None),
]


def rule_actions_model(parent: Any = None) -> KeyedTableModel[RuleActionRecord]:
    return KeyedTableModel(RULE_ACTION_COLUMNS, key=lambda a: a.id, parent=parent)
