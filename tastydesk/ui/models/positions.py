"""Position Monitor models: positions by workflow, their legs, rule distances, rule actions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.enums import RuleAction, RuleType
from tastydesk.engine.domain.records import RuleActionRecord
from tastydesk.engine.domain.symbols import display_symbol
from tastydesk.engine.domain.views import AssignmentRisk, PositionLegView, PositionView, RuleStatus
from tastydesk.ui import format as fmt
from tastydesk.ui.models.base import CENTER, RIGHT, TIME_WIDTH, Column, KeyedTableModel
from tastydesk.ui.models.exits import (
    action_label,
    exit_label,
    exit_tip,
    nearest_rule,
    nearest_text,
    progress,
    relative_distance,
    rule_distance,
    rule_label,
    rule_measure,
    rules_tip,
)
from tastydesk.ui.models.rules import ACTION_LABELS, format_threshold
from tastydesk.ui.models.tree import KeyedTreeModel

HEALTH_TEXT = {"ok": "\u25cf OK", "warn": "\u25b2 Watch", "danger": "\u25a0 Danger"}
HEALTH_TIPS = {"ok": "No protective rule (stop, delta, time exit) within 25 % of firing",
               "warn": "A protective rule is within 25 % of its threshold",
               "danger": "A protective rule's condition holds"}


def _health_tip(view: PositionView) -> str:
    tip = HEALTH_TIPS.get(view.health, f"Health: {view.health}")
    return tip + ("\nRules paused" if view.rules_paused else "")


def _chain_tip(view: PositionView) -> str:
    rolls = f"{view.chain_rolls} roll order{'s' if view.chain_rolls != 1 else ''}"
    return (f"Order chain: {rolls}, {view.days_held} days held\n"
            f"Credits {fmt.money(view.chain_credits)}, debits {fmt.money(view.chain_debits)}, "
            f"fees {fmt.money(view.chain_fees)}\n"
            f"Realised on legs no longer held {fmt.money(view.realised_pnl, signed=True)}")
def _risk_rank(risk: AssignmentRisk) -> tuple[int, float]:
    """Riskiest first: exposed to the dividend, then in the money, then nearest the strike."""
    return (0 if risk.dividend_exposed else 1 if risk.in_the_money else 2, risk.distance_pct)


def worst_risk(view: PositionView) -> AssignmentRisk | None:
    risks = [leg.risk for leg in view.legs if leg.risk is not None]
    return min(risks, key=_risk_rank) if risks else None


def risk_text(risk: AssignmentRisk | None) -> str:
    if risk is None:
        return ""
    flag = "■ " if risk.dividend_exposed or risk.in_the_money else ""
    return flag + risk.describe()


def _risk_tip(view: PositionView) -> str:
    lines = [f"{_leg_name((view, leg))}: {risk_text(leg.risk)}" for leg in view.legs
             if leg.risk is not None]
    return "\n".join(lines) or "No short option leg"


#: Widths sized so that at 1600x980 the Position Monitor shows every column up to Chain whole
#: (a strategy name such as "Call Credit Spread - 30 DTE" included); the rest scroll.
POSITION_COLUMNS: list[Column[PositionView]] = [
    Column("id", "#", lambda v: v.workflow_id, align=RIGHT, width=36),
    Column("symbol", "Symbol", lambda v: v.symbol, width=60),
    Column("strategy", "Strategy", lambda v: v.strategy_name, width=172),
    Column("quantity", "Qty", lambda v: v.quantity, align=RIGHT, width=36),
    Column("entry", "Entry", lambda v: v.entry_price, fmt.price, align=RIGHT, width=58),
    Column("mark", "Mark", lambda v: v.mark, fmt.price, align=RIGHT, width=58,
           header_tip="Value per spread at mid, in the entry's terms (cr / db); closing trades "
                      "the other way",
           tooltip=lambda v: f"Closing order near {fmt.closing_price(v.mark)} per spread"),
    Column("pnl", "P&L", lambda v: v.pnl, lambda x: fmt.money(x, signed=True), align=RIGHT,
           width=73, header_tip="Unrealised P&L of the open spreads at mid",
           tooltip=lambda v: f"Unrealised {fmt.money(v.pnl, signed=True)} on {v.quantity} open; "
                             f"realised on closed parts {fmt.money(v.realised_pnl, signed=True)}"),
    Column("pnl_pct", "P&L %", lambda v: v.pnl_pct, lambda x: fmt.pct(x, signed=True),
           align=RIGHT, width=56,
           header_tip="% of the credit received captured; negative: loss as % of the credit "
                      "received"),
    Column("progress", "Target / stop", progress, width=168, text=exit_label,
           sort_key=lambda v: progress(v) or 0.0, tooltip=exit_tip,
           header_tip="The P&L at which the profit target or stop loss fires, and the share of "
                      "the way from $0 still to go"),
    Column("chain", "Chain", lambda v: v.realised_pnl, lambda x: fmt.money(x, signed=True),
           align=RIGHT, width=66, tooltip=lambda v: _chain_tip(v),
           header_tip="The order chain (entry, rolls, closes): P&L realised on legs rolled or "
                      "closed away, after fees; the tooltip has credits, debits and days held"),
    Column("dte", "DTE", lambda v: v.dte, align=RIGHT, width=40),
    Column("delta", "\u0394", lambda v: v.delta, lambda x: fmt.number(x, 1), align=RIGHT,
           width=52),
    Column("theta", "\u0398", lambda v: v.theta, lambda x: fmt.number(x, 2), align=RIGHT,
           width=56),
    Column("rules", "Nearest rule", nearest_text, width=250,
           sort_key=lambda v: (relative_distance(r) if (r := nearest_rule(v)) else float("inf")),
           tooltip=rules_tip,
           header_tip="The rule closest to firing, relative to its own threshold"),
    Column("health", "Health", lambda v: v.health, lambda h: HEALTH_TEXT.get(h, h),
           align=CENTER, width=76,
           sort_key=lambda v: {"ok": 0, "warn": 1, "danger": 2}.get(v.health, 3),
           tooltip=_health_tip),
    Column("assignment", "Assignment risk", lambda v: risk_text(worst_risk(v)), width=230,
           sort_key=lambda v: _risk_rank(r) if (r := worst_risk(v)) else (3, 0.0),
           tooltip=_risk_tip,
           header_tip="The riskiest short leg: in the money or % out of it, its extrinsic value "
                      "and the days to the underlying's ex-dividend date"),
]


LegOf = tuple[PositionView, PositionLegView]


def _leg_pnl(pair: LegOf) -> Decimal | None:
    _, leg = pair
    if leg.mark is None:
        return None
    return (leg.mark - leg.entry_price) * leg.quantity * leg.multiplier


def _leg_dte(pair: LegOf) -> int | None:
    # The position's DTE is its front leg's; later legs (calendars) add their distance to it.
    view, leg = pair
    if leg.expiry is None:
        return None  # shares do not expire
    front = min(x.expiry for x in view.legs if x.expiry is not None)
    return view.dte + (leg.expiry - front).days


def _leg_delta(pair: LegOf) -> float | None:
    _, leg = pair
    return None if leg.delta is None else leg.delta * leg.quantity * float(leg.multiplier)


def _leg_name(pair: LegOf) -> str:
    view, leg = pair
    if leg.expiry is None or leg.option_type is None:
        return f"{leg.symbol} shares"
    return fmt.leg_name(view.symbol, leg.expiry, leg.option_type, leg.strike)


def _leg_tip(pair: LegOf) -> str:
    _, leg = pair
    side = "Short" if leg.quantity < 0 else "Long"
    return (f"{side} {abs(leg.quantity)} \u00d7 {_leg_name(pair)} "
            f"(OCC {display_symbol(leg.symbol)}); delta per contract "
            f"{fmt.number(leg.delta, 3)}")


#: What a leg shows under its position's columns (the rest stay empty on leg rows).
POSITION_LEG_CHILD_COLUMNS: dict[str, Column[LegOf]] = {
    "strategy": Column("strategy", "Strategy", _leg_name, tooltip=_leg_tip,
                       sort_key=lambda p: (p[1].expiry or date.max, p[1].strike,
                                       str(p[1].option_type))),
    "quantity": Column("quantity", "Qty", lambda p: p[1].quantity, lambda q: f"{q:+d}",
                       align=RIGHT),
    "entry": Column("entry", "Entry", lambda p: p[1].entry_price, lambda x: f"{x:.2f}",
                    align=RIGHT),
    "mark": Column("mark", "Mark", lambda p: p[1].mark,
                   lambda x: "\u2014" if x is None else f"{x:.2f}", align=RIGHT),
    "pnl": Column("pnl", "P&L", _leg_pnl, lambda x: fmt.money(x, signed=True), align=RIGHT),
    "dte": Column("dte", "DTE", _leg_dte, lambda x: "\u2014" if x is None else str(x),
                  align=RIGHT),
    "delta": Column("delta", "\u0394", _leg_delta, lambda x: fmt.number(x, 1), align=RIGHT),
    "assignment": Column("assignment", "Assignment risk", lambda p: risk_text(p[1].risk)),
}


def positions_model(parent: Any = None) -> KeyedTreeModel[PositionView, PositionLegView]:
    """Positions by workflow, each with its legs as child rows."""
    return KeyedTreeModel(POSITION_COLUMNS, key=lambda v: v.workflow_id,
                          children=lambda v: v.legs, child_columns=POSITION_LEG_CHILD_COLUMNS,
                          parent=parent)


def _rule_state(rule: RuleStatus) -> str:
    state = "TRIGGERED" if rule.triggered else "on" if rule.enabled else "off"
    return state + (" \u00b7 auto" if rule.auto else "")


RULE_COLUMNS: list[Column[RuleStatus]] = [
    Column("rule", "Rule", lambda r: rule_label(r.rule_type), width=100,
           tooltip=lambda r: r.description or None),
    Column("action", "Action", action_label, width=80),
    Column("threshold", "Threshold", lambda r: r.threshold, align=RIGHT, width=210,
           text=lambda r: format_threshold(r.rule_type, r.threshold)),
    Column("current", "Now", lambda r: r.current, align=RIGHT, width=110,
           text=lambda r: rule_measure(r.rule_type, r.current, compact=True),
           tooltip=lambda r: rule_measure(r.rule_type, r.current),
           header_tip="The rule's measure now, in the threshold's unit (a stop loss measures "
                      "the loss as % of the credit received)"),
    Column("distance", "Distance", lambda r: r.distance, align=RIGHT, width=100,
           text=lambda r: rule_distance(r, compact=True), tooltip=rule_distance,
           header_tip="How far the measure still has to move before the rule fires, in the "
                      "threshold's unit"),
    Column("state", "State", _rule_state, width=90,
           tooltip=lambda r: "Acts without asking" if r.auto else "Asks before acting"),
]


def rules_model(parent: Any = None) -> KeyedTableModel[RuleStatus]:
    return KeyedTableModel(RULE_COLUMNS, key=lambda r: r.index, parent=parent)


def _rule_type_label(value: str) -> str:
    try:
        return rule_label(RuleType(value))
    except ValueError:
        return value


def _action_text(value: str) -> str:
    try:
        return ACTION_LABELS[RuleAction(value)]
    except ValueError:
        return value


RULE_ACTION_COLUMNS: list[Column[RuleActionRecord]] = [
    Column("time", "When", lambda a: a.time, fmt.timestamp,
           sort_key=lambda a: a.time.timestamp(), width=TIME_WIDTH),
    Column("workflow", "#", lambda a: a.workflow_id, align=RIGHT, width=36),
    Column("rule", "Rule", lambda a: _rule_type_label(a.rule_type), width=100),
    Column("action", "Action", lambda a: _action_text(a.action), width=90),
    Column("status", "Status", lambda a: a.status, width=80),
    Column("detail", "Detail", lambda a: a.detail, tooltip=lambda a: a.detail or None),
]


def rule_actions_model(parent: Any = None) -> KeyedTableModel[RuleActionRecord]:
    return KeyedTableModel(RULE_ACTION_COLUMNS, key=lambda a: a.id, parent=parent)
