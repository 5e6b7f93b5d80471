"""Workflow Status models: workflows, their transition timeline, strategy results, journal."""

from __future__ import annotations

from typing import Any

from tastydesk.engine.domain.records import JournalRecord, TransitionRecord
from tastydesk.engine.domain.views import StrategyStats, WorkflowView
from tastydesk.ui import format as fmt
from tastydesk.ui.models.base import RIGHT, TIME_WIDTH, Column, KeyedTableModel

WORKFLOW_COLUMNS: list[Column[WorkflowView]] = [
    Column("id", "#", lambda w: w.workflow_id, align=RIGHT, width=40),
    Column("symbol", "Symbol", lambda w: w.symbol, width=60),
    Column("strategy", "Strategy", lambda w: w.strategy_name or "", width=170),
    Column("state", "State", lambda w: str(w.state), width=130),
    Column("bias", "Bias", lambda w: "" if w.bias is None else str(w.bias), width=64),
    Column("updated", "Updated", lambda w: w.updated_at, fmt.timestamp,
           sort_key=lambda w: w.updated_at.timestamp(), width=TIME_WIDTH),
    Column("reason", "Last reason", lambda w: w.last_reason,
           tooltip=lambda w: w.last_reason or None),
]


def workflows_model(parent: Any = None) -> KeyedTableModel[WorkflowView]:
    return KeyedTableModel(WORKFLOW_COLUMNS, key=lambda w: w.workflow_id, parent=parent)


TRANSITION_COLUMNS: list[Column[TransitionRecord]] = [
    Column("time", "Time", lambda t: t.time, fmt.timestamp,
           sort_key=lambda t: (t.time.timestamp(), t.seq), width=TIME_WIDTH),
    Column("workflow", "#", lambda t: t.workflow_id, align=RIGHT, width=40),
    Column("from", "From", lambda t: "" if t.from_state is None else str(t.from_state),
           width=130),
    Column("to", "To", lambda t: str(t.to_state), width=130),
    Column("trigger", "Trigger", lambda t: "" if t.trigger is None else str(t.trigger),
           width=90),
    Column("actor", "Actor", lambda t: str(t.actor), width=60),
    Column("reason", "Reason", lambda t: t.reason, tooltip=lambda t: t.reason or None),
]


def transitions_model(parent: Any = None) -> KeyedTableModel[TransitionRecord]:
    return KeyedTableModel(TRANSITION_COLUMNS, key=lambda t: t.id, parent=parent)


STATS_COLUMNS: list[Column[StrategyStats]] = [
    Column("strategy", "Strategy", lambda s: s.strategy_name, width=170),
    Column("trades", "Trades", lambda s: s.trades, align=RIGHT, width=60),
    Column("win_rate", "Win rate", lambda s: s.win_rate * 100, fmt.pct, align=RIGHT, width=70),
    Column("pnl", "Realised P&L", lambda s: s.realised_pnl, lambda x: fmt.money(x, signed=True),
           align=RIGHT),
]


def stats_model(parent: Any = None) -> KeyedTableModel[StrategyStats]:
    return KeyedTableModel(STATS_COLUMNS, key=lambda s: s.strategy_name, parent=parent)


JOURNAL_COLUMNS: list[Column[JournalRecord]] = [
    Column("closed", "Closed", lambda j: j.closed_at, fmt.timestamp,
           sort_key=lambda j: j.closed_at.timestamp(), width=TIME_WIDTH),
    Column("workflow", "#", lambda j: j.workflow_id, align=RIGHT, width=40),
    Column("symbol", "Symbol", lambda j: j.symbol, width=60),
    Column("strategy", "Strategy", lambda j: j.strategy, width=170),
    Column("entry", "Entry", lambda j: j.entry_price, fmt.price, align=RIGHT),
    Column("exit", "Exit", lambda j: j.exit_price, fmt.price, align=RIGHT),
    Column("pnl", "P&L", lambda j: j.realised_pnl, lambda x: fmt.money(x, signed=True),
           align=RIGHT),
    Column("held", "Held", lambda j: j.duration_s, fmt.age, align=RIGHT),
    Column("rule", "Closed by", lambda j: j.closing_rule),
]


def journal_model(parent: Any = None) -> KeyedTableModel[JournalRecord]:
    return KeyedTableModel(JOURNAL_COLUMNS, key=lambda j: j.id, parent=parent)
