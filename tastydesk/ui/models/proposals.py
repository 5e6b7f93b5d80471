"""Approval Queue models: pending proposals, their legs, and the decision history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tastydesk.engine.domain.chain import parse_occ
from tastydesk.engine.domain.proposal import ResolvedLeg, ShareLeg
from tastydesk.engine.domain.records import DecisionRecord
from tastydesk.engine.domain.views import PendingView
from tastydesk.ui import format as fmt
from tastydesk.ui.models.base import CENTER, RIGHT, TIME_WIDTH, Column, KeyedTableModel

NEGATIVE_EV = "negative expected value"


def negative_ev(view: PendingView) -> bool:
    """The trade loses money on average by its own model: flagged, and can be filtered out."""
    return view.proposal.expected_value < 0


def warnings_of(view: PendingView) -> tuple[str, ...]:
    """The proposal's warnings, led by a negative expected value when it has one."""
    flag = (f"{NEGATIVE_EV} ({fmt.money(view.proposal.expected_value, signed=True)})",) \
        if negative_ev(view) else ()
    return flag + tuple(view.proposal.warnings)


def _warnings_tip(view: PendingView) -> str:
    warnings = warnings_of(view)
    if not warnings:
        return "No warnings"
    return "\n".join(f"\u26a0 {w}" for w in warnings)


def strategy_text(view: PendingView) -> str:
    """The strategy, or for a follow-up after an assignment what it does: ``After assignment:
    close`` (the rationale is in the tooltip and the detail)."""
    follow_up = view.proposal.follow_up
    if follow_up is None:
        return view.proposal.strategy_name
    return f"After assignment: {follow_up.value}"


def countdown(seconds: float | None) -> str:
    """A live countdown in real minutes and seconds: ``4:59``, ``0:07``, ``expired``."""
    if seconds is None:
        return fmt.DASH
    if seconds <= 0:
        return "expired"
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 60}:{s % 60:02d}"


PENDING_ORDER = ("symbol", "warnings", "expires", "strategy", "net", "ev", "pop", "max_loss",
                 "max_profit", "bp", "rr", "bias", "confidence", "age")


def pending_columns(now: Callable[[], datetime],
                    wall: Callable[[], datetime] | None = None) -> list[Column[PendingView]]:
    """Columns of the pending table; ``now`` is the engine clock (ages follow paper time) and
    ``wall`` the trader's clock (the approval window runs in real time whatever the speed)."""
    real = wall or now

    def age_s(v: PendingView) -> float:
        return (now() - v.created_at).total_seconds()

    def left_s(v: PendingView) -> float | None:
        if v.expires_at is None:
            return None
        return (v.expires_at - real()).total_seconds()

    def expiry_tip(v: PendingView) -> str:
        left = left_s(v)
        if left is None:
            return f"Proposed {fmt.timestamp(v.created_at)}; no expiry"
        return (f"Proposed {fmt.timestamp(v.created_at)}; the approval window closes in "
                f"{countdown(left)} (real time, whatever the paper speed)")

    def trade(read: Callable[[PendingView], Any]) -> Callable[[PendingView], Any]:
        """A new trade's figure; a follow-up (closing what an assignment left) has no
        profit target, odds or bias confidence: a dash, not a zero that reads as a fact."""
        return lambda v: None if v.proposal.follow_up is not None else read(v)

    columns = [
        Column("symbol", "Symbol", lambda v: v.proposal.underlying, width=64,
               text=lambda v: f"\u21a9 {v.proposal.underlying}" if v.returned
               else v.proposal.underlying,
               tooltip=lambda v: (f"Returned: {v.returned}\n" if v.returned else "")
               + f"Workflow #{v.workflow_id}, proposal #{v.proposal_id}"),
        Column("strategy", "Strategy", lambda v: v.proposal.strategy_name, width=160,
               text=strategy_text,
               tooltip=lambda v: "\n".join(v.proposal.rationale) or None),
        Column("bias", "Bias", trade(lambda v: str(v.proposal.bias)),
               lambda b: fmt.DASH if b is None else b, width=64),
        Column("net", "Net", lambda v: v.proposal.mid_price, fmt.price, align=RIGHT, width=70,
               header_tip="Net price per spread at mid: cr = credit received, db = debit paid",
               tooltip=lambda v: f"Natural {fmt.price(v.proposal.natural_price)}"),
        Column("max_profit", "Max profit", trade(lambda v: v.proposal.max_profit), fmt.money,
               align=RIGHT, width=80),
        Column("max_loss", "Max loss", lambda v: v.proposal.max_loss,
               lambda x: fmt.money(x) if x is not None else "undefined", align=RIGHT, width=80,
               tooltip=lambda v: "" if v.proposal.defined_risk else "Undefined risk"),
        Column("rr", "R/R", trade(lambda v: v.proposal.risk_reward), lambda x: fmt.number(x, 2),
               align=RIGHT, width=48, header_tip="Risk/reward: max loss / max profit"),
        Column("pop", "POP", trade(lambda v: v.proposal.pop * 100), fmt.pct, align=RIGHT, width=48,
               header_tip="Probability of profit at expiry"),
        Column("bp", "BP", lambda v: v.proposal.buying_power, lambda x: fmt.money(x, places=0),
               align=RIGHT, width=70, header_tip="Estimated buying power requirement"),
        Column("confidence", "Conf", trade(lambda v: v.proposal.confidence * 100), fmt.pct,
               align=RIGHT, width=48, header_tip="Confidence in the bias call"),
        Column("age", "Age", age_s, fmt.age, align=RIGHT, width=54, tooltip=expiry_tip,
               header_tip="Time since the proposal, in engine (paper) time"),
        Column("expires", "Expires", left_s, countdown, align=RIGHT, width=62,
               sort_key=lambda v: left_s(v) if v.expires_at is not None else float("inf"),
               tooltip=expiry_tip,
               header_tip="Real time left to decide (minutes:seconds), whatever the paper speed"),
        Column("ev", "EV", lambda v: v.proposal.expected_value,
               lambda x: fmt.money(x, signed=True), align=RIGHT, width=64,
               header_tip="Expected value per trade by the proposal's model (negative: flagged)"),
        Column("warnings", "\u26a0", warnings_of,
               lambda w: str(len(w)) if w else "", sort_key=lambda v: len(warnings_of(v)),
               align=CENTER, tooltip=_warnings_tip, width=40, header_tip="Warnings"),
    ]
    # What decides first: the trade, its warnings and the time left to decide, then its price
    # and odds; the context columns (buying power, R/R, bias, age) follow, so the deciding
    # figures stay in view when the queue shares a 1600-pixel screen with the monitor.
    order = {key: i for i, key in enumerate(PENDING_ORDER)}
    return sorted(columns, key=lambda c: order[c.key])


def pending_model(now: Callable[[], datetime], parent: Any = None,
                  wall: Callable[[], datetime] | None = None) -> KeyedTableModel[PendingView]:
    return KeyedTableModel(pending_columns(now, wall), key=lambda v: v.workflow_id, parent=parent)


#: A row of a proposal's legs table: an option, or the shares a follow-up trades.
LegRow = ResolvedLeg | ShareLeg
SHARES_TIP = "shares: multiplier 1, quantity in shares, prices per share"


def _option(value: Callable[[ResolvedLeg], Any]) -> Callable[[LegRow], Any]:
    """An option-only figure; None (a blank cell) on the share row."""
    return lambda leg: value(leg) if isinstance(leg, ResolvedLeg) else None


def _blank(show: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda x: "" if x is None else show(x)


def leg_name(leg: LegRow) -> str:
    """A proposal leg as a trader reads it: ``SPY 18 Dec 26 560 P``, or ``SPY shares``."""
    if isinstance(leg, ShareLeg):
        return f"{leg.symbol} shares"
    try:
        root = parse_occ(leg.symbol)[0]
    except ValueError:
        root = leg.symbol.split()[0] if leg.symbol.split() else leg.symbol
    return fmt.leg_name(root, leg.expiry, leg.option_type, leg.strike)


LEG_COLUMNS: list[Column[LegRow]] = [
    Column("side", "Side", lambda leg: f"{leg.side} {leg.quantity}", width=56),
    Column("leg", "Leg", leg_name, width=150,
           sort_key=lambda leg: (leg.expiry, leg.strike, str(leg.option_type))
           if isinstance(leg, ResolvedLeg) else (),
           tooltip=lambda leg: SHARES_TIP if isinstance(leg, ShareLeg) else
           f"OCC {' '.join(leg.symbol.split())}"
           + (f"; chosen by {leg.reason}" if leg.reason else "")),
    Column("bid", "Bid", lambda leg: leg.bid, lambda x: f"{x:.2f}", align=RIGHT, width=52),
    Column("ask", "Ask", lambda leg: leg.ask, lambda x: f"{x:.2f}", align=RIGHT, width=52),
    Column("mid", "Mid", lambda leg: leg.mid, lambda x: f"{x:.2f}", align=RIGHT, width=52),
    Column("delta", "\u0394", lambda leg: leg.delta if isinstance(leg, ResolvedLeg) else 1.0,
           lambda x: fmt.number(x, 3), align=RIGHT, width=58, header_tip="Delta per share"),
    Column("theta", "\u0398", _option(lambda leg: leg.theta), _blank(lambda x: fmt.number(x, 3)),
           align=RIGHT, width=58, header_tip="Theta per share per day"),
    Column("vega", "Vega", _option(lambda leg: leg.vega), _blank(lambda x: fmt.number(x, 3)),
           align=RIGHT, width=58),
    Column("iv", "IV", _option(lambda leg: leg.iv * 100),
           _blank(lambda x: fmt.pct(x, places=1)), align=RIGHT, width=56),
    Column("oi", "OI", _option(lambda leg: leg.open_interest), _blank(lambda x: f"{x:,}"),
           align=RIGHT, header_tip="Open interest",
           tooltip=lambda leg: (leg.reason or None) if isinstance(leg, ResolvedLeg) else None),
]


def legs_model(parent: Any = None) -> KeyedTableModel[LegRow]:
    """A proposal's legs: its options, then the shares a follow-up trades (multiplier 1)."""
    return KeyedTableModel(LEG_COLUMNS, key=lambda leg: leg.symbol, parent=parent)


def decision_columns(label: Callable[[int], str]) -> list[Column[DecisionRecord]]:
    """History columns; ``label`` names the trade behind a proposal id."""
    return [
        Column("time", "When", lambda d: d.time, fmt.timestamp,
               sort_key=lambda d: d.time.timestamp(), width=TIME_WIDTH),
        Column("trade", "Trade", lambda d: label(d.proposal_id), width=200),
        Column("decision", "Decision", lambda d: d.decision, width=70),
        Column("user", "Who", lambda d: d.user, width=70),
        Column("price", "Price", lambda d: d.price, fmt.price, align=RIGHT, width=70),
        Column("quantity", "Qty", lambda d: d.quantity,
               lambda q: "" if q is None else str(q), align=RIGHT, width=40),
        Column("reason", "Why", lambda d: d.reason, tooltip=lambda d: d.reason or None),
    ]


def decisions_model(label: Callable[[int], str],
                    parent: Any = None) -> KeyedTableModel[DecisionRecord]:
    return KeyedTableModel(decision_columns(label), key=lambda d: d.id, parent=parent)
