"""``tastydesk orders [--json]``: every order the data directory holds, for the trader's records.

Each order with its legs, signed limit price (credit +, debit -), quantities, time in force,
status, status history, fills and fees. The default is a compact table, one order per line;
``--json`` prints an array whose keys are documented in the README ("Exports") and only ever
grow. Read-only: it runs beside the app (see :mod:`tastydesk.commands.exports`).
"""

from __future__ import annotations

import argparse
from typing import Any

from tastydesk.commands.exports import (
    SELLS,
    Records,
    data_directory,
    iso,
    leg_name,
    money,
    price_effect,
    read_records,
    short_time,
    write_json,
    write_table,
)
from tastydesk.engine.domain.records import FillRecord, OrderEventRecord, OrderRecord
from tastydesk.exit_codes import ExitCode

TABLE_HEADERS = ["ID", "WF", "PURPOSE", "SYMBOL", "LIMIT", "FILLED", "TIF", "STATUS", "FEES",
                 "CREATED (UTC)", "LEGS"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print a JSON array with stable keys (see README, Exports)")


def run(args: argparse.Namespace) -> int:
    records = read_records(data_directory(getattr(args, "data_dir", None)))
    if args.json:
        write_json(order_documents(records))
    else:
        write_table(TABLE_HEADERS, [_row(o) for o in records.orders])
    return int(ExitCode.OK)


def order_documents(records: Records) -> list[dict[str, Any]]:
    """Every order as a JSON-ready object, oldest first; the keys are the documented ones."""
    events = records.events_by_order()
    fills = records.fills_by_order()
    return [order_document(o, events.get(o.id, []), fills.get(o.id, []))
            for o in records.orders]


def order_document(order: OrderRecord, events: list[OrderEventRecord],
                   fills: list[FillRecord]) -> dict[str, Any]:
    return {
        "id": order.id,
        "external_id": order.external_id,
        "broker_order_id": order.broker_order_id,
        "workflow_id": order.workflow_id,
        "proposal_id": order.proposal_id,
        "purpose": order.purpose.value,
        "underlying": order.underlying,
        "legs": [{"symbol": leg.symbol, "name": leg_name(leg.symbol),
                  "action": leg.action.value, "quantity": leg.quantity} for leg in order.legs],
        "price": str(order.price),
        "price_effect": price_effect(order.price),
        "quantity": order.quantity,
        "filled_quantity": order.filled_quantity,
        "time_in_force": order.time_in_force.value,
        "status": order.status.value,
        "reject_reason": order.reject_reason,
        "attempt": order.attempt,
        "fees": money(order.fees),
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
        "status_history": [
            {"time": iso(e.time), "status": e.status.value,
             "price": None if e.price is None else str(e.price),
             "filled_quantity": e.filled_quantity, "broker_order_id": e.broker_order_id,
             "detail": e.detail} for e in events],
        "fills": [
            {"fill_id": f.fill_id, "symbol": f.symbol, "name": leg_name(f.symbol),
             "action": f.action.value, "quantity": f.quantity, "price": str(f.price),
             "time": iso(f.time)} for f in fills],
    }


def _row(order: OrderRecord) -> list[str]:
    effect = {"credit": "cr", "debit": "db"}.get(price_effect(order.price), "")
    legs = ", ".join(f"{'-' if leg.action in SELLS else '+'}{leg.quantity} {leg_name(leg.symbol)}"
                     for leg in order.legs)
    return [str(order.id), str(order.workflow_id), order.purpose.value, order.underlying,
            f"{abs(order.price)} {effect}".strip(), f"{order.filled_quantity}/{order.quantity}",
            order.time_in_force.value, order.status.value, money(order.fees) or "-",
            short_time(order.created_at), legs]
