"""``tastydesk journal [--csv|--json]``: every closed trade with its order chain, for the records.

An order chain is what tastytrade's order-chain view shows: the order that opened a position and
every roll and exit that followed, until it was closed. Each row is one closed trade (a journal
entry) with its entry and exit, the credits received and debits paid by its orders' fills, fees,
realised P&L, days held and the rule that closed it, plus the totals of its chain accumulated up
to that trade's close (a chain that closes in several trades carries them forward).

Figures are the journal's own where it has them (fees, realised P&L, entry and exit price);
credits and debits are summed from the fills, each fill counted once per chain, so
``credits + debits - fees`` is the realised P&L. The default is a compact table; ``--csv`` and
``--json`` use the columns documented in the README ("Exports"). Read-only: it runs beside the
app (see :mod:`tastydesk.commands.exports`).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tastydesk.commands.exports import (
    CENT,
    Records,
    data_directory,
    days_between,
    emit,
    fill_amount,
    iso,
    money,
    read_records,
    short_time,
    write_json,
    write_table,
)
from tastydesk.engine.domain.enums import OrderPurpose
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.records import FillRecord, JournalRecord, OrderRecord
from tastydesk.exit_codes import ExitCode

COLUMNS = (
    "trade_id", "chain_id", "workflow_id", "strategy", "symbol", "opened_at", "closed_at",
    "days_held", "entry_order", "entry_price", "exit_order", "exit_price", "credits", "debits",
    "fees", "realised_pnl", "closing_rule", "roll_orders", "chain_opened_at", "chain_trades",
    "chain_roll_orders", "chain_credits", "chain_debits", "chain_fees", "chain_realised_pnl",
    "chain_days_held",
)
ROLES = {OrderPurpose.OPEN: "entry", OrderPurpose.ROLL: "roll",
         OrderPurpose.CLOSE: "exit", OrderPurpose.PARTIAL_CLOSE: "exit"}
TABLE_HEADERS = ["TRADE", "CHAIN", "SYMBOL", "STRATEGY", "OPENED (UTC)", "CLOSED (UTC)", "DAYS",
                 "ENTRY", "EXIT", "CREDITS", "DEBITS", "FEES", "P&L", "CHAIN P&L", "CLOSED BY"]
ZERO = Decimal(0)


def add_parser(parser: argparse.ArgumentParser) -> None:
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true",
                      help="print CSV with a stable header (see README, Exports)")
    form.add_argument("--json", action="store_true",
                      help="print a JSON array with stable keys (see README, Exports)")


def run(args: argparse.Namespace) -> int:
    records = read_records(data_directory(getattr(args, "data_dir", None)))
    trades = journal_documents(records)
    if args.json:
        write_json(trades)
    elif args.csv:
        emit_csv(trades)
    else:
        write_table(TABLE_HEADERS, [_row(t) for t in trades])
    return int(ExitCode.OK)


@dataclass(slots=True)
class _Chain:
    """Totals of one order chain so far, carried from one closed trade to the next."""

    opened_at: datetime
    trades: int = 0
    roll_orders: int = 0
    credits: Decimal = ZERO
    debits: Decimal = ZERO
    fees: Decimal = ZERO
    realised_pnl: Decimal = ZERO
    counted: set[int] = field(default_factory=set)  # fill row ids already in the totals


def journal_documents(records: Records) -> list[dict[str, Any]]:
    """Every closed trade as a JSON-ready object (the :data:`COLUMNS` keys, then its chain's
    orders), in the order the trades closed."""
    by_workflow: dict[WorkflowId, list[OrderRecord]] = {}
    for order in records.orders:
        by_workflow.setdefault(order.workflow_id, []).append(order)
    fills_by_workflow: dict[WorkflowId, list[FillRecord]] = {}
    for fill in records.fills:
        fills_by_workflow.setdefault(fill.workflow_id, []).append(fill)
    chains: dict[Any, _Chain] = {}
    out = []
    for trade in records.journal:
        orders = by_workflow.get(trade.workflow_id, [])
        entry = _entry_order(orders, trade)
        key = entry.id if entry is not None else ("trade", trade.id)
        chain = chains.setdefault(key, _Chain(
            opened_at=entry.created_at if entry is not None else trade.opened_at))
        fills = [f for f in fills_by_workflow.get(trade.workflow_id, [])
                 if trade.opened_at <= f.time <= trade.closed_at and f.id not in chain.counted]
        out.append(_trade_document(trade, entry, chain, orders, fills))
    return out


def _entry_order(orders: list[OrderRecord], trade: JournalRecord) -> OrderRecord | None:
    """The filled opening order that started the trade's chain: the newest one placed at or
    before the trade opened (the journal dates a trade from its opening order)."""
    opens = [o for o in orders if o.purpose is OrderPurpose.OPEN and o.filled_quantity > 0
             and o.created_at <= trade.opened_at]
    return opens[-1] if opens else None


def _trade_document(trade: JournalRecord, entry: OrderRecord | None, chain: _Chain,
                    orders: list[OrderRecord], fills: list[FillRecord]) -> dict[str, Any]:
    amounts: dict[int, Decimal] = {}
    for fill in fills:
        amounts[fill.order_id] = amounts.get(fill.order_id, ZERO) + fill_amount(fill)
    traded = [o for o in orders if o.id in amounts]
    credits = sum((a for a in amounts.values() if a > 0), ZERO)
    debits = sum((a for a in amounts.values() if a < 0), ZERO)
    rolls = sum(1 for o in traded if o.purpose is OrderPurpose.ROLL)
    exits = [o for o in traded if ROLES[o.purpose] == "exit"]
    chain.trades += 1
    chain.roll_orders += rolls
    chain.credits += credits
    chain.debits += debits
    chain.fees += trade.fees
    chain.realised_pnl += trade.realised_pnl
    chain.counted.update(f.id for f in fills)
    return {
        "trade_id": trade.id,
        "chain_id": None if entry is None else entry.id,
        "workflow_id": trade.workflow_id,
        "strategy": trade.strategy,
        "symbol": trade.symbol,
        "opened_at": iso(trade.opened_at),
        "closed_at": iso(trade.closed_at),
        "days_held": str((Decimal(trade.duration_s) / 86400).quantize(CENT)),
        "entry_order": None if entry is None else entry.external_id,
        "entry_price": str(trade.entry_price),
        "exit_order": exits[-1].external_id if exits else None,
        "exit_price": str(trade.exit_price),
        "credits": money(credits),
        "debits": money(debits),
        "fees": money(trade.fees),
        "realised_pnl": money(trade.realised_pnl),
        "closing_rule": trade.closing_rule,
        "roll_orders": rolls,
        "chain_opened_at": iso(chain.opened_at),
        "chain_trades": chain.trades,
        "chain_roll_orders": chain.roll_orders,
        "chain_credits": money(chain.credits),
        "chain_debits": money(chain.debits),
        "chain_fees": money(chain.fees),
        "chain_realised_pnl": money(chain.realised_pnl),
        "chain_days_held": str(days_between(chain.opened_at, trade.closed_at)),
        "orders": [{
            "id": o.id,
            "external_id": o.external_id,
            "role": ROLES[o.purpose],
            "purpose": o.purpose.value,
            "created_at": iso(o.created_at),
            "price": str(o.price),
            "filled_quantity": o.filled_quantity,
            "amount": money(amounts[o.id]),
            "fees": None if o.fees is None else money(o.fees * o.filled_quantity / o.quantity),
        } for o in traded],
    }


def emit_csv(trades: list[dict[str, Any]]) -> None:
    """The :data:`COLUMNS` in that order, one closed trade a line; empty cells for none."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(trades)
    emit(sys.stdout, buffer.getvalue())


def _row(t: dict[str, Any]) -> list[str]:
    return [str(t["trade_id"]), str(t["chain_id"] or "-"), t["symbol"], t["strategy"],
            short_time(datetime.fromisoformat(t["opened_at"])),
            short_time(datetime.fromisoformat(t["closed_at"])), t["days_held"],
            t["entry_price"], t["exit_price"], t["credits"], t["debits"], t["fees"],
            t["realised_pnl"], t["chain_realised_pnl"], t["closing_rule"]]
