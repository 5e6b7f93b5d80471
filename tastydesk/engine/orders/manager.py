"""The order manager: intents, dry runs, placement, the price walk, unknown outcomes, broker
snapshots and fills, and look-ups by our external id.

Order safety: the intent with its external id is committed before sending; a dry run precedes
every order; an unknown outcome is looked up (a few times, spaced out), never re-sent. Status
changes follow the domain's order table (:mod:`tastydesk.engine.domain.order_fsm`).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock, TimerHandle
from tastydesk.engine.domain.enums import (
    AlertCategory,
    AlertLevel,
    CommandOutcome,
    OrderPurpose,
    OrderStatus,
)
from tastydesk.engine.domain.events import (
    Alert,
    FillReceived,
    OrderRecorded,
    OrderUpdated,
    QuoteReceived,
)
from tastydesk.engine.domain.ids import BrokerOrderId, ExternalOrderId, ProposalId, WorkflowId
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.money import ZERO
from tastydesk.engine.domain.order_fsm import can_move
from tastydesk.engine.domain.orders import CommandResult, OrderLeg, OrderRequest, OrderSnapshot
from tastydesk.engine.domain.pricer import SpreadPrice
from tastydesk.engine.domain.records import OrderRecord
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.orders.market import OrderMarket
from tastydesk.engine.orders.pricing import OrderPricer, resumed_plan
from tastydesk.engine.orders.quote_check import OrderQuoteCheck
from tastydesk.engine.orders.records import OrderRecords
from tastydesk.engine.orders.working import (
    OrderOutcomes,
    WorkingOrder,
    opening_commitments,
    remaining_request,
)
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.risk.checks import Commitment
from tastydesk.engine.settings import Settings
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.strategies.library import StrategyLibrary
from tastydesk.engine.subscriptions import StreamClaims
from tastydesk.engine.workflow.book import WorkflowBook
from tastydesk.engine.workflow.common import UNKNOWN_LOOKUP_DELAYS

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]


class OrderManager:
    def __init__(self, *, broker: BrokerPort, store: AsyncStore, book: WorkflowBook,
                 settings: Settings, strategies: StrategyLibrary, outcomes: OrderOutcomes,
                 streams: StreamClaims, bus: EventBus, clock: Clock, spawn: Spawn,
                 counters: Counter[str]) -> None:
        self._broker = broker
        self._pricer = OrderPricer(broker)
        self._market_data = OrderMarket(broker, streams, spawn)
        self._store = store
        self._book = book
        self._settings = settings
        self._strategies = strategies
        self._outcomes = outcomes
        self._bus = bus
        self._clock = clock
        self._spawn = spawn
        self._counters = counters
        self._orders = OrderRecords()
        self._working: dict[ExternalOrderId, WorkingOrder] = {}
        self._by_broker_id: dict[BrokerOrderId, ExternalOrderId] = {}
        self._seen_fills: set[str] = set()
        self._lookups: dict[ExternalOrderId, TimerHandle] = {}
        self._quote_check = OrderQuoteCheck(self._market_data.quote, store, bus, clock, self._record)

    # ---- queries
    def records(self) -> list[OrderRecord]:
        return self._orders.all()

    def open_records(self) -> list[OrderRecord]:
        """The orders sent and not yet ended (a short list, whatever the run has sent)."""
        return self._orders.open()

    def working(self, external_id: ExternalOrderId) -> WorkingOrder | None:
        return self._working.get(external_id)

    def has_open(self, workflow_id: WorkflowId) -> bool:
        return any(o.workflow_id == workflow_id for o in self._orders.open())

    def count_for_proposal(self, proposal_id: ProposalId, purpose: OrderPurpose) -> int:
        return sum(1 for o in self._orders.all()
                   if o.proposal_id == proposal_id and o.purpose is purpose)

    def commitments(self) -> list[Commitment]:
        """Buying power the unfilled part of every working opening order would use."""
        return opening_commitments(self._working.values(), self._orders)

    # ---- lifecycle
    def subscribe(self) -> list[Any]:
        return [self._bus.subscribe(OrderUpdated, self._on_order_updated),
                self._bus.subscribe(FillReceived, self._on_fill),
                self._bus.subscribe(QuoteReceived, self._on_quote)]

    def stop(self) -> None:
        for order in self._working.values():
            if order.timer:
                order.timer.cancel()
        for handle in self._lookups.values():
            handle.cancel()
        self._lookups.clear()

    # ---- submission
    async def submit(self, workflow_id: WorkflowId, purpose: OrderPurpose, underlying: str,
                     legs: tuple[OrderLeg, ...], units: int, *, mid: Decimal, natural: Decimal,
                     strategy: Strategy | None, limit: Decimal | None = None,
                     price: Decimal | None = None, proposal_id: ProposalId | None = None,
                     rule_type: str = "", buying_power_per_unit: Decimal = ZERO,
                     time_in_force: TimeInForce = TimeInForce.DAY) -> None:
        """Persist the intent, dry-run it, send it, and start its price walk.

        Every price comes from the order's walk (:mod:`tastydesk.engine.orders.pricing`): it
        starts at ``mid`` (or the trader's ``price``) and steps toward ``natural`` by shares of
        the spread, on tick and never past ``limit``. A GTC order (a resting exit) rests at its
        ``price`` instead: no walk, until it fills or is withdrawn."""
        plan = await self._pricer.plan(underlying=underlying, leg_count=len(legs),
                                       purpose=purpose, rule_type=rule_type, strategy=strategy,
                                       mid=mid, limit=limit, price=price, natural=natural,
                                       max_slippage=self._settings.config.max_exit_slippage)
        first = plan.price(0, natural)
        now = self._clock.now()
        external_id = ExternalOrderId(f"td-{workflow_id}-{purpose.value}-{uuid.uuid4().hex[:12]}")
        request = OrderRequest(underlying, legs, first, external_id, time_in_force=time_in_force)
        attempt = self.count_for_proposal(proposal_id, purpose) if proposal_id else 0
        record = await self._store.create_order_intent(workflow_id, purpose, request, units, now,
                                                       proposal_id=proposal_id, attempt=attempt)
        self._record(record)
        working = WorkingOrder(
            external_id=external_id, workflow_id=workflow_id, purpose=purpose,
            broker_order_id=None, request=request, price=first, mid=mid, natural=natural,
            plan=plan, units=units, rule_type=rule_type,
            buying_power_per_unit=buying_power_per_unit)
        self._working[external_id] = working
        self._market_data.watch(external_id, workflow_id, request)
        dry = await self._broker.dry_run(request)
        if dry.errors:
            await self._failed(external_id, "dry run: " + "; ".join(dry.errors))
            return
        self._counters["orders"] += 1
        result = await self._broker.place(request)
        if result.outcome is CommandOutcome.ACCEPTED and result.order is not None:
            working.broker_order_id = result.order.order_id
            self._by_broker_id[result.order.order_id] = external_id
            self._record(await self._store.update_order(
                external_id, OrderStatus.WORKING, self._clock.now(),
                broker_order_id=result.order.order_id, price=first,
                detail=f"placed at {first} ({plan.reason}; mid {mid}, natural {natural})",
                fees=dry.fees))
            if time_in_force is TimeInForce.DAY:
                self._arm_walk(working)
            await self.apply_snapshot(external_id, result.order)
        elif result.outcome is CommandOutcome.REJECTED:
            await self._failed(external_id, f"rejected by the broker: {result.reason}")
        else:
            self._record(await self._store.update_order(
                external_id, OrderStatus.UNKNOWN, self._clock.now(),
                detail=f"outcome unknown: {result.reason}", fees=dry.fees))
            self._alert(AlertLevel.WARNING, "Order outcome unknown",
                        f"{underlying}: {result.reason}. Looking it up; it will not be re-sent.",
                        workflow_id)
            self._schedule_lookup(working)

    # ---- the legs' quotes: the walk follows the market, fills record it
    def _on_quote(self, event: QuoteReceived) -> None:
        self._market_data.update(event.quote)

    def _market(self, working: WorkingOrder) -> SpreadPrice:
        """Mid and natural of ``working`` now: from the latest quotes, else the last known."""
        latest = self._market_data.price(working.request, working.units)
        if latest is not None:
            working.mid, working.natural = latest.mid, latest.natural
        return SpreadPrice(working.mid, working.natural)

    def _record(self, record: OrderRecord, price_step: bool = False,
                market: SpreadPrice | None = None) -> OrderRecord:
        self._orders.put(record)
        self._bus.publish(OrderRecorded(record, price_step, market.mid if market else None,
                                        market.natural if market else None))
        return record

    def _alert(self, level: AlertLevel, title: str, message: str, workflow_id: WorkflowId) -> None:
        self._bus.publish(Alert(level, AlertCategory.ERROR, title, message, self._clock.now(),
                                workflow_id))

    # ---- unknown outcomes: looked up, never re-sent
    def _schedule_lookup(self, working: WorkingOrder) -> None:
        delay = UNKNOWN_LOOKUP_DELAYS[min(working.lookups, len(UNKNOWN_LOOKUP_DELAYS) - 1)]
        ext = working.external_id
        old = self._lookups.pop(ext, None)
        if old:
            old.cancel()

        def fire() -> None:
            self._lookups.pop(ext, None)
            self._spawn(self._resolve_unknown(ext), "lookup")

        self._lookups[ext] = self._clock.call_later(delay, fire)

    async def _resolve_unknown(self, external_id: ExternalOrderId) -> None:
        working = self._working.get(external_id)
        if working is None:
            return
        working.lookups += 1
        snap = await self._broker.find_order(external_id)
        if snap is not None:
            working.broker_order_id = snap.order_id
            self._by_broker_id[snap.order_id] = external_id
            await self.apply_snapshot(external_id, snap)
            if external_id in self._working and not snap.status.is_terminal and \
                    working.request.time_in_force is TimeInForce.DAY:
                self._arm_walk(working)
            return
        if working.lookups >= len(UNKNOWN_LOOKUP_DELAYS):
            await self._failed(external_id, "not found at the broker after repeated look-ups")
        else:
            self._schedule_lookup(working)

    # ---- the price walk
    def _arm_walk(self, working: WorkingOrder) -> None:
        if working.timer:
            working.timer.cancel()
        working.timer = self._clock.call_later(
            working.plan.walk.interval_seconds,
            lambda: self._spawn(self._walk(working.external_id), "price-walk"))

    async def _walk(self, external_id: ExternalOrderId) -> None:
        working = self._working.get(external_id)
        if working is None or working.broker_order_id is None:
            return
        async with self._book.lock(working.workflow_id):
            if external_id not in self._working:
                return
            armed = self._settings.armed
            nxt = working.attempt + 1
            if not working.plan.walk.has_attempt(nxt) or not armed:
                why = ("automation paused" if not armed
                       else f"not filled after {working.attempt + 1} prices")
                await self._cancel(external_id, working, why)
                return
            if await self._quote_check.held(working, self._orders[external_id]):
                self._arm_walk(working)  # this step waits for sane quotes
                return
            new_price = working.plan.price(nxt, self._market(working).natural)
            if new_price == working.price:
                working.attempt = nxt  # already there (at natural or the limit): keep working
                self._arm_walk(working)
                return
            filled = self._orders[external_id].filled_quantity
            dry = await self._broker.dry_run(remaining_request(working, filled, new_price))
            if dry.errors:
                await self._cancel(external_id, working,
                                   "dry run of the next price: " + "; ".join(dry.errors))
                return
            await self._step(external_id, working, new_price)

    async def withdraw(self, external_id: ExternalOrderId, why: str) -> OrderRecord | None:
        """Cancel an order of ours (a resting exit, before the app's own exit); its record
        after says whether it ended or filled first (None: an order we never knew)."""
        working = self._working.get(external_id)
        if working is not None and working.broker_order_id is not None:
            await self._cancel(external_id, working, why)
            if external_id in self._working and (snap := await self._broker.get_order(
                    working.broker_order_id)) is not None:  # not ended yet: ask once more
                await self.apply_snapshot(external_id, snap, cancel_reason=why)
        return self._orders.get(external_id)

    async def _cancel(self, external_id: ExternalOrderId, working: WorkingOrder, why: str) -> None:
        assert working.broker_order_id is not None
        working.cancel_reason = why
        result = await self._broker.cancel(working.broker_order_id)
        if result.outcome is CommandOutcome.ACCEPTED and result.order is not None:
            await self.apply_snapshot(external_id, result.order, cancel_reason=why)
        else:  # refused, or an unknown outcome: looked up, never sent again
            snap = await self._broker.get_order(working.broker_order_id)
            if snap is not None:
                await self.apply_snapshot(external_id, snap)
            if external_id in self._working and working.request.time_in_force is TimeInForce.DAY:
                self._arm_walk(working)  # still working: the walk decides again next interval

    async def _step(self, external_id: ExternalOrderId, working: WorkingOrder, new_price: Decimal) -> None:
        assert working.broker_order_id is not None
        result = await self._broker.replace(working.broker_order_id, new_price)
        if result.outcome is CommandOutcome.UNKNOWN:  # looked up, never sent again
            found = await self._broker.find_order(external_id)
            went = found is not None and found.order_id != working.broker_order_id
            result = CommandResult(CommandOutcome.ACCEPTED if went else CommandOutcome.REJECTED,
                                   found if went else None, result.reason)
        if result.outcome is CommandOutcome.ACCEPTED and result.order is not None:
            old = working.broker_order_id
            working.filled_before = self._orders[external_id].filled_quantity
            working.broker_order_id = result.order.order_id
            working.price = new_price
            working.attempt += 1
            self._by_broker_id[result.order.order_id] = external_id
            self._counters["price_steps"] += 1
            self._record(await self._store.update_order(
                external_id, OrderStatus.WORKING, self._clock.now(),
                broker_order_id=result.order.order_id, price=new_price,
                detail=f"price step {working.attempt}: {new_price} ({working.plan.urgency.value}; "
                       f"natural {working.natural}; replaced {old})"),
                price_step=True)
            self._arm_walk(working)
            await self.apply_snapshot(external_id, result.order)
        else:
            # The original keeps working at its old price (it may have filled meanwhile).
            snap = await self._broker.get_order(working.broker_order_id)
            if snap is not None:
                await self.apply_snapshot(external_id, snap)
            if external_id in self._working:
                working.attempt += 1
                self._arm_walk(working)

    # ---- start-up
    def adopt_record(self, order: OrderRecord) -> None:
        """Know an open order from the store (start-up, before its broker state is read)."""
        self._orders.put(order)

    def track(self, order: OrderRecord, snap: OrderSnapshot) -> None:
        """Track an order found live at start-up: it keeps its price, cancelled after one
        interval unless filled (a GTC resting exit keeps resting)."""
        plan = resumed_plan(snap.price)
        request = OrderRequest(order.underlying, order.legs, snap.price, order.external_id,
                               time_in_force=order.time_in_force)
        working = WorkingOrder(
            external_id=order.external_id, workflow_id=order.workflow_id, purpose=order.purpose,
            broker_order_id=snap.order_id, request=request, price=snap.price, mid=snap.price,
            natural=snap.price, plan=plan, units=order.quantity)
        self._working[order.external_id] = working
        self._by_broker_id[snap.order_id] = order.external_id
        if not snap.status.is_terminal:
            self._market_data.watch(order.external_id, order.workflow_id, request)
            if order.time_in_force is TimeInForce.DAY:
                self._arm_walk(working)

    def _end_tracking(self, working: WorkingOrder) -> None:
        if working.timer:
            working.timer.cancel()
        self._quote_check.forget(working.external_id)
        self._market_data.unwatch(
            working.external_id, working.workflow_id, working.request,
            any(w.workflow_id == working.workflow_id for w in self._working.values()))

    async def close_missing(self, order: OrderRecord, detail: str) -> None:
        """An open order the broker does not know: recorded as cancelled, never sent again."""
        self._record(await self._store.update_order(order.external_id, OrderStatus.CANCELLED,
                                                    self._clock.now(), detail=detail))

    async def _failed(self, external_id: ExternalOrderId, reason: str) -> None:
        working = self._working.pop(external_id, None)
        if working:
            self._end_tracking(working)
        rec = self._record(await self._store.update_order(
            external_id, OrderStatus.REJECTED if "reject" in reason or "dry run" in reason
            else OrderStatus.CANCELLED, self._clock.now(), detail=reason))
        await self._outcomes.order_ended(rec, reason)

    # ---- broker events
    def _on_order_updated(self, event: OrderUpdated) -> None:
        snap = event.order
        ext = snap.external_id if snap.external_id in self._orders else self._by_broker_id.get(
            snap.order_id)
        if ext is not None:
            self._spawn(self._snapshot_locked(ext, snap), "order-update")

    def _on_fill(self, event: FillReceived) -> None:
        ext = self._by_broker_id.get(event.fill.order_id)
        if ext is not None:
            self._spawn(self.confirm_fill(ext, event.fill.order_id), "fill")

    def resync(self) -> None:
        """After an account-stream gap, re-read every working order: fills may have happened."""
        for ext, working in list(self._working.items()):
            if working.broker_order_id:
                self._spawn(self.confirm_fill(ext, working.broker_order_id), "resync")

    async def confirm_fill(self, external_id: ExternalOrderId, order_id: BrokerOrderId) -> None:
        snap = await self._broker.get_order(order_id)  # fills are confirmed by look-up
        if snap is not None:
            await self._snapshot_locked(external_id, snap)

    async def _snapshot_locked(self, external_id: ExternalOrderId, snap: OrderSnapshot) -> None:
        order = self._orders.get(external_id)
        if order is None:
            return
        async with self._book.lock(order.workflow_id):
            await self.apply_snapshot(external_id, snap)

    async def apply_snapshot(self, external_id: ExternalOrderId, snap: OrderSnapshot,
                             cancel_reason: str = "") -> None:
        """Fold a broker snapshot of one of our orders into the store and the workflow."""
        order = self._orders[external_id]
        now = self._clock.now()
        unseen = [f for f in snap.fills if f.fill_id not in self._seen_fills]
        new_fills = 0
        if unseen:
            # Fill rows and the position they move are written in one transaction.
            new_fills = len(await self._store.record_fills(external_id, unseen, now))
            self._seen_fills.update(f.fill_id for f in unseen)
        working = self._working.get(external_id)
        cancel_reason = cancel_reason or (working.cancel_reason if working else "")
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
        if not can_move(order.status, status):
            log.warning("order %s: ignoring a move from %s to %s", external_id, order.status,
                        status)
            return
        filled = max((working.filled_before if working else 0) + snap.filled_quantity,
                     order.filled_quantity)
        market = self._market(working) if working is not None and new_fills else None
        rec = self._record(await self._store.update_order(
            external_id, status, now, broker_order_id=snap.order_id, filled_quantity=filled,
            detail=cancel_reason or snap.reject_reason or f"broker status {status.value}",
            mid=market.mid if market else None, natural=market.natural if market else None),
            market=market)
        if status.is_terminal and working is not None:
            self._working.pop(external_id, None)
            self._end_tracking(working)
        if status is OrderStatus.FILLED:
            self._counters["fills"] += 1
            await self._outcomes.order_filled(rec, snap)
        elif status.is_terminal:
            if filled > 0:
                await self._outcomes.order_filled(rec, snap, partial_units=filled)
            else:
                reason = cancel_reason or snap.reject_reason or f"order {status.value.lower()}"
                await self._outcomes.order_ended(rec, reason)
        elif new_fills:
            await self._outcomes.order_partly_filled(rec)
