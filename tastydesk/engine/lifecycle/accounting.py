"""Checks that what the app booked adds up to what the broker did.

* :func:`lifecycle_counts`: the lifecycle transactions booked, by kind.
* :func:`cash_check`: the journal's realised P&L plus the cash the still-open cycles moved so far
  (their fills, fees and lifecycle transactions: the open positions' cost) against the broker's
  cash change. Any difference is a booking the app got wrong or never made.
* :func:`orphaned_workflows`: workflows monitoring legs the broker no longer holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from tastydesk.engine.domain.enums import OrderPurpose
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.lifecycle import LifecycleBooking, LifecycleKind
from tastydesk.engine.domain.money import ZERO
from tastydesk.engine.domain.records import (
    FillRecord,
    JournalRecord,
    OrderRecord,
    PositionRecord,
    WorkflowRecord,
)
from tastydesk.engine.positions.settlement import cycle_cash, cycle_fees


def lifecycle_counts(bookings: Iterable[LifecycleBooking]) -> dict[str, int]:
    """``assigned`` counts every assignment; ``early_assigned`` those before expiration day."""
    counts: Counter[str] = Counter()
    for b in bookings:
        e = b.event
        if e.kind is LifecycleKind.EXPIRED:
            counts["expired"] += 1
        elif e.kind is LifecycleKind.ASSIGNED:
            counts["assigned"] += 1
            counts["early_assigned"] += int(e.early)
        elif e.kind is LifecycleKind.EXERCISED:
            counts["exercised"] += 1
        elif e.kind is LifecycleKind.DIVIDEND:
            counts["dividends"] += 1
        elif e.kind is LifecycleKind.CASH_SETTLED:
            counts["cash_settled"] += 1
        else:
            counts["shares_delivered"] += 1
        counts["not_held_by_the_app"] += int(b.workflow_id is None)
    keys = ("expired", "assigned", "early_assigned", "exercised", "dividends", "cash_settled",
            "shares_delivered", "not_held_by_the_app")
    return {k: counts.get(k, 0) for k in keys}


def cash_check(broker_cash_change: Decimal, workflows: list[WorkflowRecord],
               orders: list[OrderRecord], fills: list[FillRecord],
               bookings: list[LifecycleBooking], journal: list[JournalRecord]) -> dict[str, Any]:
    """The journal plus the open cycles' cash, against the broker's cash change (to the cent)."""
    journalled = {(j.workflow_id, j.opened_at) for j in journal}
    by_wf_orders: dict[WorkflowId, list[OrderRecord]] = {}
    for o in orders:
        by_wf_orders.setdefault(o.workflow_id, []).append(o)
    by_wf_fills: dict[WorkflowId, list[FillRecord]] = {}
    for f in fills:
        by_wf_fills.setdefault(f.workflow_id, []).append(f)
    open_cost = ZERO
    for wf in workflows:
        mine = by_wf_orders.get(wf.id, [])
        opens = [o for o in mine if o.purpose is OrderPurpose.OPEN and o.filled_quantity > 0]
        if not opens:
            continue
        start = opens[-1].created_at
        if (wf.id, start) in journalled:
            continue
        cycle_fills = [f for f in by_wf_fills.get(wf.id, []) if f.time >= start]
        cycle_books = [b for b in bookings if b.workflow_id == wf.id and b.booked_at >= start]
        open_cost += cycle_cash(cycle_fills, cycle_books) - cycle_fees(
            [o for o in mine if o.created_at >= start], cycle_fills)
    unowned = sum((b.event.value for b in bookings if b.workflow_id is None), ZERO)
    realised = sum((j.realised_pnl for j in journal), ZERO)
    total = realised + open_cost + unowned
    return {"broker_cash_change": str(broker_cash_change), "journal_realised": str(realised),
            "open_positions_cost": str(open_cost), "not_held_by_the_app": str(unowned),
            "journal_plus_open_cost": str(total),
            "difference": str(broker_cash_change - total)}


def orphaned_workflows(monitored: dict[WorkflowId, list[str]],
                       broker_positions: dict[str, int],
                       store_positions: list[PositionRecord]) -> list[int]:
    """Workflows whose monitored legs include one the broker holds none of (or less of than the
    app's positions in it add up to)."""
    held: Counter[str] = Counter()
    for p in store_positions:
        held[p.symbol] += p.quantity
    out = []
    for wid, symbols in monitored.items():
        if any(broker_positions.get(s, 0) == 0 or abs(broker_positions[s]) < abs(held[s])
               for s in symbols):
            out.append(wid)
    return sorted(out)
