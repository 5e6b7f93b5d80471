"""Order execution: intents, dry runs, smart-priced placement, price walks, unknown outcomes,
broker snapshots and fills, and the journal entry when a position closes.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from tastydesk.engine.clock import TimerHandle
from tastydesk.engine.domain.enums import (
    Actor,
    CommandOutcome,
    OrderAction,
    OrderPurpose,
    OrderStatus,
    Side,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import (
    FillReceived,
    OrderUpdated,
)
from tastydesk.engine.domain.money import CENT, ZERO
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest, OrderSnapshot
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.records import (
    FillRecord,
    OrderRecord,
)
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.workflow.common import (
    CLOSE_RETRY_MINUTES,
    UNKNOWN_LOOKUP_DELAYS,
)
from tastydesk.engine.workflow.pricing_walk import next_price

log = logging.getLogger(__name__)

@dataclass(slots=True)
class WorkingOrder:
    external_id: str
    workflow_id: int
    purpose: OrderPurpose
    broker_order_id: str | None
    price: Decimal
    natural: Decimal
    step: Decimal
    limit: Decimal | None
    interval_s: float
    max_attempts: int
    units: int
    attempts: int = 1
    filled_before: int = 0  # units filled on orders this one replaced
    timer: TimerHandle | None = None
    rule_type: str = ""
    lookups: int = 0



class ExecutionMixin:
    """Part of :class:`tastydesk.engine.engine.Engine`; see its docstring. Relies on the
    engine's state (orders, monitored positions, store, broker, clock, bus)."""

    # ------------------------------------------------------------------ orders
    def _open_legs(self, proposal: TradeProposal, units: int) -> tuple[OrderLeg, ...]:
        out = []
        for leg in proposal.legs:
            ratio = leg.quantity // proposal.quantity
            action = OrderAction.SELL_TO_OPEN if leg.side is Side.SELL else OrderAction.BUY_TO_OPEN
            out.append(OrderLeg(leg.symbol, action, ratio * units))
        return tuple(out)

    def _order_request(self, proposal: TradeProposal, price: Decimal, external_id: str,
                       units: int | None = None) -> OrderRequest:
        return OrderRequest(proposal.underlying, self._open_legs(proposal, units or proposal.quantity),
                            price, external_id)

    async def _submit(self, workflow_id: int, purpose: OrderPurpose, underlying: str,
                      legs: tuple[OrderLeg, ...], units: int, price: Decimal, natural: Decimal,
                      strategy: Strategy | None, limit: Decimal | None,
                      proposal_id: int | None = None, rule_type: str = "") -> None:
        now = self.clock.now()
        external_id = f"td-{workflow_id}-{purpose.value}-{uuid.uuid4().hex[:12]}"
        request = OrderRequest(underlying, legs, price, external_id)
        attempt = sum(1 for o in self._orders.values()
                      if o.proposal_id == proposal_id and o.purpose is purpose) if proposal_id else 0
        record = await self.store.create_order_intent(workflow_id, purpose, request, units, now,
                                                      proposal_id=proposal_id, attempt=attempt)
        self._orders[external_id] = record
        pricing = strategy.pricing if strategy else None
        interval = float(pricing.interval_seconds if pricing and pricing.interval_seconds
                         else self._config.pricing_interval_seconds)
        working = WorkingOrder(
            external_id=external_id, workflow_id=workflow_id, purpose=purpose,
            broker_order_id=None, price=price, natural=natural,
            step=pricing.step if pricing else self._config.pricing_step, limit=limit,
            interval_s=interval, max_attempts=strategy.max_attempts if strategy else 4,
            units=units, rule_type=rule_type)
        self._working[external_id] = working
        dry = await self.broker.dry_run(request)
        if dry.errors:
            await self._order_failed(external_id, "dry run: " + "; ".join(dry.errors))
            return
        self.counters["orders"] += 1
        result = await self.broker.place(request)
        if result.outcome is CommandOutcome.ACCEPTED and result.order is not None:
            working.broker_order_id = result.order.order_id
            self._by_broker_id[result.order.order_id] = external_id
            rec = await self.store.update_order(external_id, OrderStatus.WORKING, self.clock.now(),
                                                broker_order_id=result.order.order_id,
                                                price=price, detail=f"placed at {price}",
                                                fees=dry.fees)
            self._orders[external_id] = rec
            self._arm_walk(working)
            await self._apply_snapshot(external_id, result.order)
        elif result.outcome is CommandOutcome.REJECTED:
            await self._order_failed(external_id, f"rejected by the broker: {result.reason}")
        else:
            rec = await self.store.update_order(external_id, OrderStatus.UNKNOWN, self.clock.now(),
                                                detail=f"outcome unknown: {result.reason}",
                                                fees=dry.fees)
            self._orders[external_id] = rec
            self._alert("warning", "error", "Order outcome unknown",
                        f"{underlying}: {result.reason}. Looking it up; it will not be re-sent.",
                        workflow_id)
            self._schedule_lookup(working)

    def _schedule_lookup(self, working: WorkingOrder) -> None:
        delay = UNKNOWN_LOOKUP_DELAYS[min(working.lookups, len(UNKNOWN_LOOKUP_DELAYS) - 1)]
        self._set_timer(("lookup", hash(working.external_id)), delay,
                        lambda: self.spawn(self._resolve_unknown(working.external_id), "lookup"))

    async def _resolve_unknown(self, external_id: str) -> None:
        working = self._working.get(external_id)
        if working is None:
            return
        working.lookups += 1
        snap = await self.broker.find_order(external_id)
        if snap is not None:
            working.broker_order_id = snap.order_id
            self._by_broker_id[snap.order_id] = external_id
            await self._apply_snapshot(external_id, snap)
            if external_id in self._working and not snap.status.is_terminal:
                self._arm_walk(working)
            return
        if working.lookups >= len(UNKNOWN_LOOKUP_DELAYS):
            await self._order_failed(external_id, "not found at the broker after repeated look-ups")
        else:
            self._schedule_lookup(working)

    def _arm_walk(self, working: WorkingOrder) -> None:
        if working.timer:
            working.timer.cancel()
        working.timer = self.clock.call_later(
            working.interval_s, lambda: self.spawn(self._walk(working.external_id), "price-walk"))

    async def _walk(self, external_id: str) -> None:
        working = self._working.get(external_id)
        if working is None or working.broker_order_id is None:
            return
        async with self._locks[working.workflow_id]:
            if external_id not in self._working:
                return
            if working.attempts >= working.max_attempts or not self._armed:
                why = ("automation paused" if not self._armed
                       else f"not filled after {working.attempts} prices")
                result = await self.broker.cancel(working.broker_order_id)
                if result.outcome is CommandOutcome.ACCEPTED and result.order is not None:
                    await self._apply_snapshot(external_id, result.order, cancel_reason=why)
                elif result.outcome is CommandOutcome.REJECTED:
                    snap = await self.broker.get_order(working.broker_order_id)
                    if snap is not None:
                        await self._apply_snapshot(external_id, snap)
                return
            new_price = next_price(working.price, working.natural, working.step, working.limit)
            if new_price is None:
                working.attempts += 1
                self._arm_walk(working)
                return
            result = await self.broker.replace(working.broker_order_id, new_price)
            if result.outcome is CommandOutcome.ACCEPTED and result.order is not None:
                old = working.broker_order_id
                working.filled_before = self._orders[external_id].filled_quantity
                working.broker_order_id = result.order.order_id
                working.price = new_price
                working.attempts += 1
                self._by_broker_id[result.order.order_id] = external_id
                self.counters["price_steps"] += 1
                rec = await self.store.update_order(
                    external_id, OrderStatus.WORKING, self.clock.now(),
                    broker_order_id=result.order.order_id, price=new_price,
                    detail=f"price step {working.attempts}: {new_price} (replaced {old})")
                self._orders[external_id] = rec
                self._arm_walk(working)
                await self._apply_snapshot(external_id, result.order)
            elif result.outcome is CommandOutcome.REJECTED:
                # The original keeps working at its old price (it may have filled meanwhile).
                snap = await self.broker.get_order(working.broker_order_id)
                if snap is not None:
                    await self._apply_snapshot(external_id, snap)
                if external_id in self._working:
                    working.attempts += 1
                    self._arm_walk(working)
            else:
                snap = await self.broker.find_order(external_id)
                if snap is not None:
                    working.broker_order_id = snap.order_id
                    self._by_broker_id[snap.order_id] = external_id
                    await self._apply_snapshot(external_id, snap)
                if external_id in self._working:
                    self._arm_walk(working)

    def _track(self, order: OrderRecord, snap: OrderSnapshot) -> None:
        """Re-create in-memory tracking for an order found live at start-up."""
        strategy = self._strategies.get(self._workflows[order.workflow_id].strategy_name or "")
        pricing = strategy.pricing if strategy else None
        working = WorkingOrder(
            external_id=order.external_id, workflow_id=order.workflow_id, purpose=order.purpose,
            broker_order_id=snap.order_id, price=snap.price, natural=snap.price,
            step=pricing.step if pricing else self._config.pricing_step,
            limit=pricing.limit_price if pricing else None,
            interval_s=float(pricing.interval_seconds if pricing
                             else self._config.pricing_interval_seconds),
            max_attempts=strategy.max_attempts if strategy else 4, units=order.quantity,
            attempts=strategy.max_attempts if strategy else 4)  # restarts never walk further
        self._working[order.external_id] = working
        self._by_broker_id[snap.order_id] = order.external_id
        if not snap.status.is_terminal:
            self._arm_walk(working)

    async def _order_failed(self, external_id: str, reason: str) -> None:
        working = self._working.pop(external_id, None)
        if working and working.timer:
            working.timer.cancel()
        rec = await self.store.update_order(external_id, OrderStatus.REJECTED
                                            if "reject" in reason or "dry run" in reason
                                            else OrderStatus.CANCELLED,
                                            self.clock.now(), detail=reason)
        self._orders[external_id] = rec
        await self._after_order_ended(rec, reason)

    async def _after_order_ended(self, rec: OrderRecord, reason: str) -> None:
        wid = rec.workflow_id
        state = self._workflows[wid].state
        self._alert("warning", "error", f"Order ended: {rec.underlying}", reason, wid)
        if rec.purpose is OrderPurpose.OPEN and state is WorkflowState.EXECUTING:
            cooldown = self.clock.now() + timedelta(minutes=self._config.scan_interval_minutes)
            await self._transition(wid, Trigger.EXEC_FAILED, Actor.ENGINE, reason,
                                   cooldown_until=cooldown)
        elif state is WorkflowState.CLOSING:
            await self._transition(wid, Trigger.CLOSE_FAILED, Actor.ENGINE, reason)
            await self._load_monitored(wid)  # fills before the end may have reduced the position
            mon = self._monitored.get(wid)
            if mon:
                mon.acting = False
                mon.holds = [type(h)() for h in mon.holds]
                mon.retry_after = self.clock.now() + timedelta(minutes=CLOSE_RETRY_MINUTES)

    # ------------------------------------------------------------------ broker events
    def _on_order_updated(self, event: OrderUpdated) -> None:
        snap = event.order
        ext = snap.external_id if snap.external_id in self._orders else self._by_broker_id.get(
            snap.order_id)
        if ext is None:
            return
        self.spawn(self._on_snapshot_locked(ext, snap), "order-update")

    def _on_fill(self, event: FillReceived) -> None:
        ext = self._by_broker_id.get(event.fill.order_id)
        if ext is None:
            return
        self.spawn(self._confirm_fill(ext, event.fill.order_id), "fill")

    async def _confirm_fill(self, external_id: str, order_id: str) -> None:
        snap = await self.broker.get_order(order_id)  # fills are confirmed by lookup
        if snap is not None:
            await self._on_snapshot_locked(external_id, snap)

    async def _on_snapshot_locked(self, external_id: str, snap: OrderSnapshot) -> None:
        order = self._orders.get(external_id)
        if order is None:
            return
        async with self._locks[order.workflow_id]:
            await self._apply_snapshot(external_id, snap)

    async def _apply_snapshot(self, external_id: str, snap: OrderSnapshot,
                              reconciling: bool = False, cancel_reason: str = "") -> None:
        """Fold a broker snapshot of one of our orders into the store and the workflow."""
        order = self._orders[external_id]
        now = self.clock.now()
        unseen = [f for f in snap.fills if f.fill_id not in self._seen_fills]
        new_fills = 0
        if unseen:
            # Fill rows and the position they move are written in one transaction.
            new_fills = len(await self.store.record_fills(external_id, unseen, now))
            self._seen_fills.update(f.fill_id for f in unseen)
        working = self._working.get(external_id)
        current = working.broker_order_id if working else order.broker_order_id
        if snap.order_id != current and snap.status in (OrderStatus.CANCELLED,
                                                        OrderStatus.REPLACED):
            return  # the order we replaced; its fills (if any) are recorded above
        if order.status.is_terminal and not new_fills:
            return
        status = snap.status
        if status is OrderStatus.REPLACED:
            return
        if (status is order.status and snap.filled_quantity == order.filled_quantity
                and not new_fills):
            return
        filled = (working.filled_before if working else 0) + snap.filled_quantity
        filled = max(filled, order.filled_quantity)
        rec = await self.store.update_order(external_id, status, now,
                                            broker_order_id=snap.order_id,
                                            filled_quantity=filled,
                                            detail=cancel_reason or snap.reject_reason or
                                            f"broker status {status.value}")
        self._orders[external_id] = rec
        if status is OrderStatus.FILLED:
            if working and working.timer:
                working.timer.cancel()
            self._working.pop(external_id, None)
            self.counters["fills"] += 1
            await self._on_filled(rec, snap)
        elif status.is_terminal:
            if working and working.timer:
                working.timer.cancel()
            self._working.pop(external_id, None)
            if filled > 0:
                await self._on_filled(rec, snap, partial_units=filled)
            else:
                reason = cancel_reason or snap.reject_reason or f"order {status.value.lower()}"
                await self._after_order_ended(rec, reason)
        elif new_fills and rec.purpose is OrderPurpose.OPEN:
            self._alert("info", "fill", f"Partial fill: {rec.underlying}",
                        f"{filled}/{rec.quantity} filled; the rest keeps working",
                        rec.workflow_id)

    async def _on_filled(self, rec: OrderRecord, snap: OrderSnapshot,
                         partial_units: int | None = None) -> None:
        wid = rec.workflow_id
        state = self._workflows[wid].state
        price = snap.price
        self._alert("info", "fill", f"Filled: {rec.underlying}",
                    f"{rec.purpose.value} {partial_units or rec.quantity} at {price}", wid)
        if rec.purpose is OrderPurpose.OPEN:
            if state is WorkflowState.EXECUTING:
                await self._transition(wid, Trigger.FILL, Actor.ENGINE,
                                       f"filled {partial_units or rec.quantity} at {price}",
                                       payload={"order": rec.external_id})
                await self._load_monitored(wid)
            return
        if state is not WorkflowState.CLOSING:
            return
        await self._load_monitored(wid)
        if wid not in self._monitored:
            # The CLOSE transition's reason names the rule (or the trader) that started it.
            await self._finish_closed(wid, f"closed at {price}", self._last_reason.get(wid, ""))
        else:
            what = "rolled" if rec.purpose is OrderPurpose.ROLL else "partially closed"
            await self._transition(wid, Trigger.PARTIAL, Actor.ENGINE, f"{what} at {price}")
            self._monitored[wid].acting = False

    def _cycle_fees(self, orders: list[OrderRecord], fills: list[FillRecord]) -> Decimal:
        """What the cycle's orders cost in fees: each filled order's broker figure (from its dry
        run), pro rata to the part that filled; an order without one (written before fees were
        kept) is charged the per-contract estimate on its fills."""
        total = ZERO
        for order in orders:
            if order.filled_quantity <= 0:
                continue
            if order.fees is not None:
                total += order.fees * order.filled_quantity / order.quantity
            else:
                contracts = sum(f.quantity for f in fills if f.order_id == order.id)
                total += Decimal(contracts) * self._fee_per_contract
        return total.quantize(CENT)

    async def _finish_closed(self, workflow_id: int, reason: str, rule: str = "") -> None:
        """CLOSING -> COMPLETED: write the journal entry for this cycle, then schedule the restart."""
        now = self.clock.now()
        wf = self._workflows[workflow_id]
        orders = await self.store.orders(workflow_id)
        opens = [o for o in orders if o.purpose is OrderPurpose.OPEN and o.filled_quantity > 0]
        cycle_start = opens[-1].created_at if opens else wf.created_at
        fills = [f for f in await self.store.fills(workflow_id) if f.time >= cycle_start]
        gross = sum(((f.price if f.action in (OrderAction.SELL_TO_OPEN, OrderAction.SELL_TO_CLOSE)
                      else -f.price) * f.quantity * 100 for f in fills), ZERO)
        fees = self._cycle_fees([o for o in orders if o.created_at >= cycle_start], fills)
        entry = opens[-1].price if opens else ZERO
        exit_ = next((o.price for o in reversed(orders) if o.purpose is not OrderPurpose.OPEN
                      and o.filled_quantity > 0), ZERO)
        await self.store.add_journal(
            workflow_id=workflow_id, strategy=wf.strategy_name or "", symbol=wf.symbol,
            entry_price=entry, exit_price=exit_, fees=fees, realised_pnl=gross - fees,
            opened_at=cycle_start, closed_at=now, closing_rule=rule or reason)
        cooldown = now + timedelta(minutes=self._config.restart_cooldown_minutes)
        await self._transition(workflow_id, Trigger.CLOSED, Actor.ENGINE, reason,
                               cooldown_until=cooldown)
        self._drop_monitored(workflow_id)
        self.counters["closed"] += 1
        self.counters[f"closed_by:{rule or 'other'}"] += 1
        self._schedule_restart(workflow_id, cooldown)
        self._portfolio_dirty = True
