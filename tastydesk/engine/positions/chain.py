"""Order chains: a position's orders from its entry through its rolls to its close, with the
totals tastytrade's order-chain view shows.

Why: a roll keeps the position's identity (the same workflow), so what the trade has earned is
the whole chain's, not the last leg's: every credit received and debit paid, the fees, the P&L
already realised on legs rolled away, and the days held since the entry.

API (for the position view, the journal and the exports):

* :func:`chain_totals` (pure) over one chain's orders and fills;
* :func:`chains` (pure) splits a workflow's orders and fills into its chains (one per entry);
* :func:`workflow_chains` reads them from a :class:`~tastydesk.engine.store.service.Store`
  (read-only, as the exports do), :func:`load_current_chain` the open one through the engine's
  async store.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from tastydesk.engine.domain.enums import OrderAction, OrderPurpose
from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.engine.domain.money import CENT, MULTIPLIER, ZERO
from tastydesk.engine.domain.records import FillRecord, OrderRecord

if TYPE_CHECKING:
    from tastydesk.engine.store.service import AsyncStore, Store

FEE_PER_CONTRACT = Decimal("1.00")  # estimate for orders stored before fees were kept
_SELLS = (OrderAction.SELL_TO_OPEN, OrderAction.SELL_TO_CLOSE)


@dataclass(frozen=True, slots=True)
class ChainTotals:
    """One chain's totals in dollars (credits and debits both positive amounts)."""

    workflow_id: WorkflowId
    opened_at: datetime
    closed_at: datetime | None  # None while legs are still held
    orders: int  # filled orders in the chain (entry, rolls, closes)
    rolls: int  # filled roll orders (a condor's roll counts its two pieces)
    credits: Decimal  # cash received on sells
    debits: Decimal  # cash paid on buys
    fees: Decimal
    realised_pnl: Decimal  # on legs no longer held, after all fees so far
    days_held: int

    @property
    def net(self) -> Decimal:
        """Credits less debits and fees: the chain's P&L once everything is closed."""
        return self.credits - self.debits - self.fees


def order_fees(orders: list[OrderRecord], fills: list[FillRecord]) -> Decimal:
    """What filled orders cost in fees: the broker's figure from the dry run, pro rata to the
    part that filled; orders without one are charged the per-contract estimate."""
    total = ZERO
    for order in orders:
        if order.filled_quantity <= 0:
            continue
        if order.fees is not None:
            total += order.fees * order.filled_quantity / order.quantity
        else:
            contracts = sum(f.quantity for f in fills if f.order_id == order.id)
            total += Decimal(contracts) * FEE_PER_CONTRACT
    return total.quantize(CENT)


def chain_totals(workflow_id: WorkflowId, orders: list[OrderRecord], fills: list[FillRecord],
                 now: datetime) -> ChainTotals:
    """Totals of one chain (its orders and their fills, in time order)."""
    credits = debits = ZERO
    held: dict[str, int] = defaultdict(int)
    cash: dict[str, Decimal] = defaultdict(Decimal)
    for f in fills:
        amount = f.price * f.quantity * MULTIPLIER
        if f.action in _SELLS:
            credits += amount
            cash[f.symbol] += amount
            held[f.symbol] -= f.quantity
        else:
            debits += amount
            cash[f.symbol] -= amount
            held[f.symbol] += f.quantity
    fees = order_fees(orders, fills)
    flat = [s for s, q in held.items() if q == 0]
    closed = bool(held) and len(flat) == len(held)
    opened = orders[0].created_at if orders else now
    closed_at = max(f.time for f in fills) if closed and fills else None
    realised = sum((cash[s] for s in flat), ZERO) - fees
    return ChainTotals(
        workflow_id=workflow_id, opened_at=opened, closed_at=closed_at,
        orders=sum(1 for o in orders if o.filled_quantity > 0),
        rolls=sum(1 for o in orders if o.purpose is OrderPurpose.ROLL and o.filled_quantity > 0),
        credits=credits.quantize(CENT), debits=debits.quantize(CENT), fees=fees,
        realised_pnl=realised.quantize(CENT),
        days_held=max(0, ((closed_at or now) - opened).days))


def chains(workflow_id: WorkflowId, orders: list[OrderRecord], fills: list[FillRecord],
           now: datetime) -> list[ChainTotals]:
    """A workflow's chains, oldest first: each starts at an entry that filled and runs until
    the next such entry."""
    orders = sorted(orders, key=lambda o: o.created_at)
    starts = [o for o in orders if o.purpose is OrderPurpose.OPEN and o.filled_quantity > 0]
    out = []
    for i, start in enumerate(starts):
        end = starts[i + 1].created_at if i + 1 < len(starts) else None
        mine = [o for o in orders
                if o.created_at >= start.created_at and (end is None or o.created_at < end)]
        ids = {o.id for o in mine}
        out.append(chain_totals(workflow_id, mine, [f for f in fills if f.order_id in ids], now))
    return out


def workflow_chains(store: Store, workflow_id: WorkflowId, now: datetime) -> list[ChainTotals]:
    """Every chain of a workflow, from a (read-only) store: what the journal and the exports
    show next to each closed trade (match a journal entry by ``opened_at``)."""
    return chains(workflow_id, store.orders(workflow_id), store.fills(workflow_id), now)


async def load_current_chain(store: AsyncStore, workflow_id: WorkflowId,
                             now: datetime) -> ChainTotals | None:
    """The chain of the position a workflow holds now (its latest), through the async store."""
    found = chains(workflow_id, await store.orders(workflow_id), await store.fills(workflow_id),
                   now)
    return found[-1] if found else None
