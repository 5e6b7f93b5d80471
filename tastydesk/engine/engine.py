"""The workflow engine: scan, evaluate, approve, execute with smart pricing, monitor, close, restart.

Everything runs on one asyncio loop. Market and account events arrive on the bus (synchronously);
handlers do the cheap part inline (rule evaluation on every leg quote/greeks) and hand anything
that touches the broker or the store to supervised tasks, serialised per workflow by a lock.
Order safety: the intent with its external identifier is committed before sending; a dry run
precedes every order; an unknown outcome is looked up, never re-sent; on start-up every open order
and every EXECUTING/CLOSING workflow is reconciled with the broker before automation is armed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock, MarketCalendar, TimerHandle
from tastydesk.engine.config import ConfigChange, EngineConfig
from tastydesk.engine.domain.account import Balance, BrokerPosition
from tastydesk.engine.domain.chain import parse_occ, streamer_symbol
from tastydesk.engine.domain.enums import (
    Actor,
    CommandOutcome,
    Mode,
    OrderAction,
    OrderPurpose,
    OrderStatus,
    RuleAction,
    RuleType,
    Side,
    StreamHealth,
    Trigger,
    WorkflowState,
)
from tastydesk.engine.domain.events import (
    Alert,
    BalanceUpdated,
    ConnectionChanged,
    FillReceived,
    GreeksReceived,
    OrderUpdated,
    PortfolioRiskChanged,
    QuoteReceived,
    RuleTriggered,
    StreamGap,
    WorkflowChanged,
)
from tastydesk.engine.domain.money import CENT, ZERO
from tastydesk.engine.domain.orders import OrderLeg, OrderRequest, OrderSnapshot
from tastydesk.engine.domain.proposal import TradeProposal
from tastydesk.engine.domain.records import (
    AuditRecord,
    DecisionRecord,
    ErrorRecord,
    JournalRecord,
    OrderRecord,
    RuleActionRecord,
    TransitionRecord,
    WorkflowRecord,
)
from tastydesk.engine.domain.strategy import DteRange, ManagementRule, Strategy
from tastydesk.engine.domain.views import (
    AnalyticsView,
    HealthView,
    OrderView,
    PendingView,
    PortfolioView,
    PositionView,
    StrategyStats,
    WorkflowView,
)
from tastydesk.engine.facade import EngineFacade
from tastydesk.engine.ports import BrokerPort
from tastydesk.engine.proposals.builder import build_proposal
from tastydesk.engine.selection import SelectionError
from tastydesk.engine.store.service import AsyncStore
from tastydesk.engine.tasks import TaskSupervisor
from tastydesk.engine.workflow.monitor import MonitoredLeg, MonitoredPosition
from tastydesk.engine.workflow.pricing_walk import initial_price, next_price
from tastydesk.engine.workflow.rules import close_quantity
from tastydesk.engine.workflow.scanner import assess_bias, candidate_strategies, filter_failures

log = logging.getLogger(__name__)

OPEN_ORDER = frozenset({OrderStatus.PENDING_SUBMIT, OrderStatus.UNKNOWN, OrderStatus.WORKING,
                        OrderStatus.PARTIALLY_FILLED})
SEARCHING = frozenset({WorkflowState.SCANNING, WorkflowState.EVALUATING,
                       WorkflowState.PENDING_APPROVAL})
ENDED = frozenset({WorkflowState.CANCELLED, WorkflowState.ERROR})
HOLDING = frozenset({WorkflowState.MONITORING, WorkflowState.CLOSING})
UNKNOWN_LOOKUP_DELAYS = (2.0, 10.0, 30.0, 120.0)  # seconds of clock time between look-ups
CLOSE_RETRY_MINUTES = 15  # a failed closing order is retried by its rule after this pause


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


class EngineError(RuntimeError):
    """A command could not be carried out; the message says why, for the trader."""


class Engine(EngineFacade):
    def __init__(self, *, broker: BrokerPort, store: AsyncStore, bus: EventBus, clock: Clock,
                 calendar: MarketCalendar, config: EngineConfig, user: str = "trader") -> None:
        self.broker = broker
        self.store = store
        self.bus = bus
        self.clock = clock
        self.calendar = calendar
        self.mode: Mode = broker.mode
        self.user = user
        self._config = config
        self.tasks = TaskSupervisor(on_error=self._task_failed)
        # The library is there before start(): the desktop builds its docks first.
        self._strategies: dict[str, Strategy] = {s.name: s for s in store.store.list_strategies()}
        self._workflows: dict[int, WorkflowRecord] = {}
        self._last_reason: dict[int, str] = {}
        self._pending: dict[int, PendingView] = {}
        self._monitored: dict[int, MonitoredPosition] = {}
        self._by_symbol: dict[str, list[MonitoredPosition]] = defaultdict(list)
        self._working: dict[str, WorkingOrder] = {}
        self._by_broker_id: dict[str, str] = {}
        self._orders: dict[str, OrderRecord] = {}
        self._locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._in_flight: set[int] = set()
        self._timers: dict[tuple[str, int], TimerHandle] = {}
        self._spots: dict[str, float] = {}
        self._quote_time: datetime | None = None
        self._balance: Balance | None = None
        self._day_start_nlv: Decimal | None = None
        self._armed = True
        self._reconciled = False
        self._reconcile_detail = "not yet reconciled"
        self._login_required = False
        self._portfolio = PortfolioView()
        self._breach_alerted = False
        self._event_count = 0
        self._event_window = (time.monotonic(), 0)
        self._events_per_s = 0.0
        self._subscriptions: list[Any] = []
        self._scan_timer: TimerHandle | None = None
        self._portfolio_dirty = False
        self._started = False
        self._dirty: dict[int, MonitoredPosition] = {}
        self._flush_scheduled = False
        self._seen_fills: set[str] = set()
        self._pending_quotes: dict[str, Any] = {}  # streamer symbol -> latest Quote, pending legs
        self._proposals: dict[int, TradeProposal] = {}  # proposal id -> proposal (read-mostly)
        self.counters: Counter[str] = Counter()
        self.driver: Any = None  # paper-time driver with start()/stop(), paper mode only
        self._fee_per_contract = Decimal("1.00")

    # ------------------------------------------------------------------ lifecycle
    async def start(self, start_driver: bool = True) -> None:
        await self.broker.connect()
        self._strategies = {s.name: s for s in await self.store.list_strategies()}
        stored = await self.store.get_config("engine", None)
        if stored:
            self._config = EngineConfig.from_dict(stored)
        self._armed = bool(await self.store.get_config("automation_armed", True))
        for wf in await self.store.list_workflows():
            self._workflows[wf.id] = wf
        for kind, handler in (
            (QuoteReceived, self._on_quote), (GreeksReceived, self._on_greeks),
            (OrderUpdated, self._on_order_updated), (FillReceived, self._on_fill),
            (BalanceUpdated, self._on_balance), (StreamGap, self._on_gap),
            (ConnectionChanged, self._on_connection),
        ):
            self._subscriptions.append(self.bus.subscribe(kind, handler))
        await self._reconcile()
        await self.broker.subscribe(sorted({*self._config.watchlist, "SPY"}))
        self._schedule_scan(first=True)
        self._schedule_portfolio()
        self._started = True
        if self.driver is not None and start_driver:
            self.driver.start()

    async def stop(self) -> None:
        if self.driver is not None:
            await self.driver.stop()
        for sub in self._subscriptions:
            sub.dispose()
        self._subscriptions.clear()
        for handle in self._timers.values():
            handle.cancel()
        for order in self._working.values():
            if order.timer:
                order.timer.cancel()
        if self._scan_timer:
            self._scan_timer.cancel()
        await self.tasks.cancel_all()
        await self.broker.close()
        await self.store.close()

    def _task_failed(self, name: str, exc: BaseException) -> None:
        self.spawn(self.store.log_error("task", f"{name}: {exc}", self.clock.now()), "log-error")
        self._alert("error", "error", "Engine error", f"{name}: {exc}")

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        return self.tasks.spawn(coro, name)

    # ------------------------------------------------------------------ reconciliation
    async def _reconcile(self) -> None:
        """Match the store's open orders and positions with the broker before anything runs."""
        now = self.clock.now()
        try:
            self._balance = await self.broker.balance()
            self._day_start_nlv = self._balance.net_liquidating_value
            for order in await self.store.orders(open_only=True):
                self._orders[order.external_id] = order
                snap = await self.broker.find_order(order.external_id)
                if snap is None and order.broker_order_id:
                    snap = await self.broker.get_order(order.broker_order_id)
                if snap is None:
                    detail = ("not found at the broker after restart: it never reached the broker"
                              if order.status in (OrderStatus.PENDING_SUBMIT, OrderStatus.UNKNOWN)
                              else "no longer live at the broker (day order ended)")
                    rec = await self.store.update_order(order.external_id, OrderStatus.CANCELLED,
                                                        now, detail=detail)
                    self._orders[rec.external_id] = rec
                    await self.store.audit(Actor.ENGINE, "reconcile", f"{order.external_id}: {detail}",
                                           now, order.workflow_id)
                    continue
                self._track(order, snap)
                await self._apply_snapshot(order.external_id, snap, reconciling=True)
            for wf in list(self._workflows.values()):
                await self._restore_workflow(wf)
            broker_positions = {p.symbol: p.quantity for p in await self.broker.positions()}
            held: Counter[str] = Counter()
            for mon in self._monitored.values():
                for leg in mon.legs:
                    held[leg.symbol] += leg.quantity
            for symbol, qty in held.items():
                if broker_positions.get(symbol, 0) != qty:
                    msg = f"{symbol}: store {qty}, broker {broker_positions.get(symbol, 0)}"
                    await self.store.log_error("reconcile", "position mismatch", now, detail=msg)
                    self._alert("warning", "error", "Position mismatch", msg)
            self._reconciled = True
            self._reconcile_detail = f"reconciled at {now:%Y-%m-%d %H:%M:%S}"
            await self.store.audit(Actor.ENGINE, "reconcile", self._reconcile_detail, now)
        except Exception as exc:
            self._reconciled = False
            self._reconcile_detail = f"reconciliation failed: {exc}"
            log.exception("reconciliation failed")
            await self.store.log_error("reconcile", str(exc), now)
            self._alert("error", "error", "Reconciliation failed",
                        f"{exc}. Automation stays paused until it succeeds.")
            self._set_timer(("reconcile", 0), 30.0, lambda: self.spawn(self._reconcile(), "reconcile"))

    async def _restore_workflow(self, wf: WorkflowRecord) -> None:
        now = self.clock.now()
        state = wf.state
        has_open = any(o.workflow_id == wf.id and o.status in OPEN_ORDER
                       for o in self._orders.values())
        if state is WorkflowState.EVALUATING:
            await self._transition(wf.id, Trigger.NO_CANDIDATE, Actor.ENGINE,
                                   "evaluation interrupted by a restart")
        elif state is WorkflowState.PENDING_APPROVAL and wf.proposal_id is not None:
            rec = await self.store.get_proposal(wf.proposal_id)
            self._pending[wf.id] = PendingView(wf.id, rec.id, rec.proposal, rec.created_at,
                                               rec.expires_at)
            if rec.expires_at is not None:
                self._set_timer(("expire", wf.id), max(0.0, (rec.expires_at - now).total_seconds()),
                                lambda wid=wf.id: self.spawn(self._expire(wid), "expire"))
        elif state is WorkflowState.EXECUTING and not has_open:
            await self._transition(wf.id, Trigger.EXEC_FAILED, Actor.ENGINE,
                                   "entry order ended while the app was closed",
                                   cooldown_until=now)
        elif state in HOLDING:
            await self._load_monitored(wf.id)
            if state is WorkflowState.CLOSING and not has_open:
                if wf.id in self._monitored:
                    await self._transition(wf.id, Trigger.CLOSE_FAILED, Actor.ENGINE,
                                           "closing order ended while the app was closed")
                else:
                    await self._finish_closed(wf.id, "position flat after restart")
        elif state in (WorkflowState.COMPLETED, WorkflowState.REJECTED):
            self._schedule_restart(wf.id, wf.cooldown_until or now)

    # ------------------------------------------------------------------ transitions
    async def _transition(self, workflow_id: int, trigger: Trigger, actor: Actor, reason: str,
                          payload: dict[str, Any] | None = None, **updates: Any) -> WorkflowRecord:
        previous = self._workflows.get(workflow_id)
        rec = await self.store.transition(workflow_id, trigger, actor, reason, self.clock.now(),
                                          payload=payload, **updates)
        self._workflows[workflow_id] = rec
        self._last_reason[workflow_id] = reason
        self.counters[f"transition:{trigger.value}"] += 1
        if rec.state is not WorkflowState.PENDING_APPROVAL:
            gone = self._pending.pop(workflow_id, None)
            if gone is not None:
                self._release_pending_quotes(gone.proposal)
        self.bus.publish(WorkflowChanged(workflow_id, rec.symbol, rec.state,
                                         previous.state if previous else None, reason,
                                         self.clock.now()))
        return rec

    def _release_pending_quotes(self, proposal: TradeProposal) -> None:
        still = {leg.streamer_symbol for p in self._pending.values() for leg in p.proposal.legs}
        drop = [leg.streamer_symbol for leg in proposal.legs if leg.streamer_symbol not in still]
        for sym in drop:
            self._pending_quotes.pop(sym, None)
        unused = [sym for sym in drop if sym not in self._by_symbol]
        if unused:
            self.spawn(self.broker.unsubscribe(unused), "unsubscribe-pending")

    def _alert(self, level: str, category: str, title: str, message: str,
               workflow_id: int | None = None) -> None:
        self.bus.publish(Alert(level, category, title, message, self.clock.now(), workflow_id))

    def _set_timer(self, key: tuple[str, int], seconds: float, callback: Any) -> None:
        old = self._timers.pop(key, None)
        if old:
            old.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            callback()

        self._timers[key] = self.clock.call_later(seconds, fire)

    # ------------------------------------------------------------------ scanning
    def _schedule_scan(self, first: bool = False) -> None:
        now = self.clock.now()
        interval = timedelta(minutes=self._config.scan_interval_minutes)
        at = now + (timedelta(seconds=1) if first else interval)
        if not self.calendar.is_open(at):
            at = self.calendar.next_open(at) + timedelta(minutes=5)

        def fire() -> None:
            if self._armed and self._reconciled:
                self.spawn(self.scan_now(), "scheduled-scan")
            self._schedule_scan()

        if self._scan_timer:
            self._scan_timer.cancel()
        self._scan_timer = self.clock.call_at(at, fire)

    def _slots(self, symbol: str | None = None) -> list[WorkflowRecord]:
        return [w for w in self._workflows.values()
                if w.state not in ENDED and (symbol is None or w.symbol == symbol)]

    async def scan_now(self, symbols: Sequence[str] | None = None) -> None:
        if not self._reconciled:
            raise EngineError("the broker is not reconciled yet; scanning waits for it")
        now = self.clock.now()
        watch = [s.upper() for s in (symbols or self._config.watchlist)]
        self.counters["scans"] += 1
        for symbol in watch:
            slots = self._slots(symbol)
            searching = [w for w in slots if w.state in SEARCHING]
            if (not searching and len(slots) < self._config.max_workflows_per_symbol
                    and len(self._slots()) < self._config.max_workflows_total):
                rec = await self.store.create_workflow(symbol, Actor.ENGINE, "watchlist scan", now)
                self._workflows[rec.id] = rec
                self.bus.publish(WorkflowChanged(rec.id, symbol, rec.state, None, "created", now))
        for wf in list(self._workflows.values()):
            if (wf.symbol in watch and wf.state is WorkflowState.SCANNING
                    and (wf.cooldown_until is None or wf.cooldown_until <= now)):
                self.spawn(self._evaluate(wf.id), f"evaluate-{wf.id}")

    async def _evaluate(self, workflow_id: int) -> None:
        async with self._locks[workflow_id]:
            wf = self._workflows[workflow_id]
            if wf.state is not WorkflowState.SCANNING:
                return
            await self._transition(workflow_id, Trigger.SCAN, Actor.ENGINE, "scan picked the symbol")
            try:
                outcome = await self._build_candidate(wf.symbol, workflow_id)
            except Exception as exc:
                log.exception("evaluation of %s failed", wf.symbol)
                await self.store.log_error("evaluate", str(exc), self.clock.now(),
                                           workflow_id=workflow_id)
                outcome = f"evaluation failed: {exc}"
            if isinstance(outcome, str):
                cooldown = self.clock.now() + timedelta(minutes=self._config.scan_interval_minutes)
                await self._transition(workflow_id, Trigger.NO_CANDIDATE, Actor.ENGINE, outcome,
                                       cooldown_until=cooldown)
                return
            proposal, strategy = outcome
            await self._propose(workflow_id, proposal, strategy)

    async def _build_candidate(self, symbol: str, workflow_id: int | None,
                               only: Strategy | None = None) -> tuple[TradeProposal, Strategy] | str:
        """A proposal that passed every check, or the reason there is none."""
        now = self.clock.now()
        today = self.clock.today()
        if self._portfolio.breached and only is None:
            return f"portfolio limit breached: {self._portfolio.breach_reason}"
        info = (await self.broker.market_metrics([symbol]))[symbol]
        symbol_bwd = self._symbol_bwd(symbol)
        assessment = assess_bias(info, symbol_bwd, self._config, today)
        if only is None and assessment.confidence < self._config.min_confidence:
            return f"confidence {assessment.confidence:.2f} below {self._config.min_confidence:.2f}"
        candidates = [only] if only else candidate_strategies(list(self._strategies.values()),
                                                              assessment.bias)
        if not candidates:
            return f"no enabled strategy serves a {assessment.bias.value} bias"
        reasons: list[str] = []
        for strategy in candidates:
            failures = filter_failures(strategy, info, today)
            if failures and only is None:
                reasons.append(f"{strategy.name}: " + "; ".join(failures))
                continue
            max_dte = strategy.dte.max + max((leg.expiry_offset_days for leg in strategy.legs),
                                             default=0)
            chain = await self.broker.option_chain(symbol, strategy.dte.min, max_dte)
            try:
                proposal = build_proposal(
                    strategy, chain, now, bias=assessment.bias, confidence=assessment.confidence,
                    rationale=assessment.reasons, max_quote_age_s=self._config.max_quote_age_seconds)
            except SelectionError as exc:
                reasons.append(f"{strategy.name}: {exc}")
                continue
            problem = await self._check_proposal(proposal, strategy)
            if problem:
                reasons.append(f"{strategy.name}: {problem}")
                continue
            return proposal, strategy
        return "; ".join(reasons) or "no candidate"

    async def _check_proposal(self, proposal: TradeProposal, strategy: Strategy) -> str | None:
        conflict = self._netting_conflict(proposal)
        if conflict:
            return conflict
        if strategy.filters.min_credit > 0 and proposal.mid_price < strategy.filters.min_credit:
            return f"credit {proposal.mid_price} below minimum {strategy.filters.min_credit}"
        if proposal.buying_power > strategy.sizing.max_buying_power:
            return (f"buying power {proposal.buying_power} above the per-trade maximum "
                    f"{strategy.sizing.max_buying_power}")
        limit = self._bp_limit()
        if limit > 0 and self._portfolio.buying_power_used + proposal.buying_power > limit:
            return (f"allocation: {self._portfolio.buying_power_used} used + "
                    f"{proposal.buying_power} exceeds {limit}")
        if proposal.quote_time is not None:
            age = (self.clock.now() - proposal.quote_time).total_seconds()
            if age > self._config.max_quote_age_seconds:
                return f"quotes are {age:.0f} s old"
        dry = await self.broker.dry_run(self._order_request(proposal, proposal.mid_price, "dry"))
        if dry.errors:
            return "dry run: " + "; ".join(dry.errors)
        return None

    def _netting_conflict(self, proposal: TradeProposal) -> str | None:
        """Brokers net positions per contract: a leg opposite to another workflow's would cancel
        it out at the broker and leave both workflows unable to close, so it is refused."""
        held: dict[str, tuple[int, int]] = {}
        for mon in self._monitored.values():
            for leg in mon.legs:
                held[leg.symbol] = (leg.quantity, mon.workflow_id)
        for leg in proposal.legs:
            other = held.get(leg.symbol)
            if other is None:
                continue
            sign = -1 if leg.side is Side.SELL else 1
            if other[0] * sign < 0:
                return (f"{leg.symbol.split()[0]} {leg.strike} {leg.option_type.value} would net "
                        f"against workflow {other[1]}'s position")
        return None

    async def _propose(self, workflow_id: int, proposal: TradeProposal, strategy: Strategy) -> None:
        now = self.clock.now()
        expires = now + timedelta(minutes=self._config.approval_expiry_minutes)
        proposal_id = await self.store.save_proposal(workflow_id, proposal, expires)
        self._proposals[proposal_id] = proposal
        await self._transition(workflow_id, Trigger.PROPOSE, Actor.ENGINE,
                               f"{strategy.name}: {proposal.bias.value}, credit "
                               f"{proposal.mid_price}, POP {proposal.pop:.0%}",
                               payload={"proposal_id": proposal_id},
                               proposal_id=proposal_id, strategy_name=strategy.name)
        self._pending[workflow_id] = PendingView(workflow_id, proposal_id, proposal, now, expires)
        self.counters["proposals"] += 1
        for leg in proposal.legs:  # stream the legs so approval re-checks against live quotes
            self._pending_quotes.setdefault(leg.streamer_symbol, None)
        self.spawn(self.broker.subscribe([leg.streamer_symbol for leg in proposal.legs]),
                   "subscribe-pending")
        self._set_timer(("expire", workflow_id), (expires - now).total_seconds(),
                        lambda: self.spawn(self._expire(workflow_id), "expire"))
        self._alert("info", "pending", f"New trade: {proposal.underlying}",
                    f"{strategy.name} for {proposal.mid_price} credit, max loss "
                    f"{proposal.max_loss}", workflow_id)
        if self._config.auto_approve:
            self.spawn(self.approve(workflow_id, "auto-approve policy"), f"auto-approve-{workflow_id}")

    async def _expire(self, workflow_id: int) -> None:
        async with self._locks[workflow_id]:
            if self._workflows[workflow_id].state is WorkflowState.PENDING_APPROVAL:
                await self._transition(workflow_id, Trigger.EXPIRE, Actor.ENGINE,
                                       "approval window expired")

    # ------------------------------------------------------------------ approval
    async def approve(self, workflow_id: int, user: str, price: Decimal | None = None,
                      quantity: int | None = None) -> str:
        if quantity is not None and quantity < 1:
            raise EngineError("quantity: must be at least 1")
        if price is not None and price == 0:
            raise EngineError("price: must not be zero (credit positive, debit negative)")
        if workflow_id in self._in_flight:
            return "already in progress"
        self._in_flight.add(workflow_id)
        try:
            async with self._locks[workflow_id]:
                return await self._approve_locked(workflow_id, user, price, quantity)
        finally:
            self._in_flight.discard(workflow_id)

    async def _approve_locked(self, workflow_id: int, user: str, price: Decimal | None,
                              quantity: int | None) -> str:
        wf = self._workflows.get(workflow_id)
        pending = self._pending.get(workflow_id)
        if wf is None or wf.state is not WorkflowState.PENDING_APPROVAL or pending is None:
            return "not pending"
        if not self._reconciled:
            raise EngineError("the broker is not reconciled; approvals wait for it")
        proposal = pending.proposal
        strategy = self._strategies.get(proposal.strategy_name)
        if strategy is None:
            raise EngineError(f"strategy {proposal.strategy_name!r} no longer exists")
        # Re-check against current quotes: a moved or stale market is re-priced, not sent.
        fresh = await self._current_prices(proposal)
        moved = None
        if fresh is None:
            moved = "quotes for the legs are missing or stale"
        elif abs(fresh[0] - proposal.mid_price) > self._config.reprice_tolerance:
            moved = f"mid moved from {proposal.mid_price} to {fresh[0]}"
        if moved:
            await self._transition(workflow_id, Trigger.REPRICE, Actor.ENGINE,
                                   f"re-pricing before sending: {moved}")
            outcome = await self._build_candidate(proposal.underlying, workflow_id, only=strategy)
            if isinstance(outcome, str):
                await self._transition(workflow_id, Trigger.NO_CANDIDATE, Actor.ENGINE, outcome,
                                       cooldown_until=self.clock.now())
                return f"withdrawn: {outcome}"
            await self._propose(workflow_id, outcome[0], strategy)
            return f"repriced: {moved}"
        if self._portfolio.breached:
            raise EngineError(f"portfolio limit breached: {self._portfolio.breach_reason}")
        units = quantity or proposal.quantity
        now = self.clock.now()
        decision = "modify" if (price is not None or quantity is not None) else "approve"
        await self.store.record_decision(pending.proposal_id, decision, user,
                                         "approved" if decision == "approve" else
                                         f"approved with price {price} quantity {units}",
                                         now, price=price, quantity=units)
        await self.store.set_proposal_status(pending.proposal_id, "approved")
        await self._transition(workflow_id, Trigger.APPROVE, Actor.USER,
                               f"approved by {user}", payload={"price": str(price or ""),
                                                               "quantity": units})
        self.counters["approvals"] += 1
        mid, natural = fresh  # type: ignore[misc]
        legs = self._open_legs(proposal, units)
        limit = price if price is not None else strategy.pricing.limit_price
        start = price if price is not None else initial_price(
            mid, natural, strategy.pricing.start_offset, strategy.pricing.limit_price)
        await self._submit(workflow_id, OrderPurpose.OPEN, proposal.underlying, legs, units, start,
                           natural, strategy, limit, proposal_id=pending.proposal_id)
        return "sent"

    async def reject(self, workflow_id: int, user: str, reason: str) -> None:
        if not reason or not reason.strip():
            raise EngineError("a reason is required to reject a trade")
        async with self._locks[workflow_id]:
            pending = self._pending.get(workflow_id)
            wf = self._workflows.get(workflow_id)
            if wf is None or wf.state is not WorkflowState.PENDING_APPROVAL or pending is None:
                raise EngineError("that trade is no longer pending")
            now = self.clock.now()
            await self.store.record_decision(pending.proposal_id, "reject", user, reason.strip(), now)
            await self.store.set_proposal_status(pending.proposal_id, "rejected")
            cooldown = now + timedelta(minutes=self._config.reject_cooldown_minutes)
            await self._transition(workflow_id, Trigger.REJECT, Actor.USER,
                                   f"rejected by {user}: {reason.strip()}", cooldown_until=cooldown)
            self._schedule_restart(workflow_id, cooldown)

    def _schedule_restart(self, workflow_id: int, at: datetime) -> None:
        seconds = max(0.0, (at - self.clock.now()).total_seconds())
        self._set_timer(("restart", workflow_id), seconds,
                        lambda: self.spawn(self._restart(workflow_id), f"restart-{workflow_id}"))

    async def _restart(self, workflow_id: int) -> None:
        async with self._locks[workflow_id]:
            wf = self._workflows[workflow_id]
            if wf.state in (WorkflowState.COMPLETED, WorkflowState.REJECTED):
                await self._transition(workflow_id, Trigger.RESTART, Actor.ENGINE,
                                       "cool-down over: scanning again", cooldown_until=None)

    async def _current_prices(self, proposal: TradeProposal) -> tuple[Decimal, Decimal] | None:
        """Mid and natural per spread from the latest quotes for the proposal's legs.

        Streamed quotes are used when every leg has a fresh one; otherwise the chain is fetched.
        """
        now = self.clock.now()
        streamed = [self._pending_quotes.get(leg.streamer_symbol) for leg in proposal.legs]
        if all(q is not None and (now - q.time).total_seconds() <= self._config.max_quote_age_seconds
               for q in streamed):
            return self._price_legs(proposal, streamed)
        max_dte = (max(leg.expiry for leg in proposal.legs) - self.clock.today()).days
        min_dte = (min(leg.expiry for leg in proposal.legs) - self.clock.today()).days
        chain = await self.broker.option_chain(proposal.underlying, max(0, min_dte), max_dte)
        quotes = []
        for leg in proposal.legs:
            contract = chain.contract(leg.symbol)
            if contract is None or contract.quote is None:
                return None
            if (now - contract.quote.time).total_seconds() > self._config.max_quote_age_seconds:
                return None
            quotes.append(contract.quote)
        return self._price_legs(proposal, quotes)

    @staticmethod
    def _price_legs(proposal: TradeProposal, quotes: Sequence[Any]) -> tuple[Decimal, Decimal]:
        mid = natural = ZERO
        unit = proposal.quantity
        for leg, q in zip(proposal.legs, quotes, strict=True):
            ratio = Decimal(leg.quantity // unit)
            sign = 1 if leg.side is Side.SELL else -1
            mid += sign * q.mid * ratio
            natural += (q.bid if sign > 0 else -q.ask) * ratio
        return mid.quantize(CENT), natural.quantize(CENT)

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
                                                price=price, detail=f"placed at {price}")
            self._orders[external_id] = rec
            self._arm_walk(working)
            await self._apply_snapshot(external_id, result.order)
        elif result.outcome is CommandOutcome.REJECTED:
            await self._order_failed(external_id, f"rejected by the broker: {result.reason}")
        else:
            rec = await self.store.update_order(external_id, OrderStatus.UNKNOWN, self.clock.now(),
                                                detail=f"outcome unknown: {result.reason}")
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
                        f"{snap.filled_quantity}/{rec.quantity} filled; the rest keeps working",
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
            rule = next((w.rule_type for w in [self._working.get(rec.external_id)] if w), "")
            await self._finish_closed(wid, f"closed at {price}", rule or self._closing_rule(wid))
        else:
            what = "rolled" if rec.purpose is OrderPurpose.ROLL else "partially closed"
            await self._transition(wid, Trigger.PARTIAL, Actor.ENGINE, f"{what} at {price}")
            self._monitored[wid].acting = False

    def _closing_rule(self, workflow_id: int) -> str:
        return self._last_reason.get(workflow_id, "")

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
        fees = sum((Decimal(f.quantity) for f in fills), ZERO) * self._fee_per_contract
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

    # ------------------------------------------------------------------ monitoring
    async def _load_monitored(self, workflow_id: int) -> None:
        """(Re)build a monitored position from the stored legs and the workflow's proposal."""
        wf = self._workflows[workflow_id]
        legs_rec = [p for p in await self.store.positions(workflow_id, open_only=True)
                    if p.quantity != 0]
        old = self._monitored.get(workflow_id)
        self._drop_monitored(workflow_id)
        if not legs_rec:
            return
        proposal = await self._proposal(wf.proposal_id) if wf.proposal_id else None
        strategy = self._strategies.get(wf.strategy_name or "")
        rules = self._effective_rules(wf, strategy)
        base = min(abs(p.quantity) for p in legs_rec)
        legs = []
        for p in sorted(legs_rec, key=lambda r: r.symbol):
            root, expiry, option_type, strike = parse_occ(p.symbol)
            legs.append(MonitoredLeg(
                symbol=p.symbol, streamer_symbol=streamer_symbol(root, expiry, option_type, strike),
                option_type=option_type, strike=strike, expiry=expiry, quantity=p.quantity,
                ratio=p.quantity // base if p.quantity % base == 0 else p.quantity,
                entry_price=p.avg_open_price))
        units = base if all(leg.quantity % base == 0 for leg in legs) else 1
        if proposal is not None and proposal.quantity:
            per_unit_profit = proposal.max_profit / proposal.quantity
            per_unit_loss = proposal.max_loss / proposal.quantity
            per_unit_bp = proposal.buying_power / proposal.quantity
        else:
            per_unit_profit = per_unit_loss = per_unit_bp = ZERO
        mon = MonitoredPosition(
            workflow_id=workflow_id, symbol=wf.symbol, strategy_name=wf.strategy_name or "",
            legs=legs, units=units, max_profit_per_unit=per_unit_profit,
            max_loss_per_unit=per_unit_loss, buying_power_per_unit=per_unit_bp, rules=rules,
            opened_at=min(p.opened_at for p in legs_rec), paused=wf.rules_paused,
            beta=1.0)
        if mon.max_profit_per_unit <= 0 and mon.entry_price > 0:
            mon.max_profit_per_unit = mon.entry_price * 100
        if old is None:
            opened = mon.opened_at
            for action in await self.store.rule_actions(workflow_id):
                if action.time >= opened and action.status == "acting automatically":
                    for i, r in enumerate(rules):
                        if r.rule_type.value == action.rule_type and \
                                r.rule_type is RuleType.PARTIAL_CLOSE:
                            mon.spent.add(i)
        else:
            mon.alerted = old.alerted
            mon.spent = old.spent
            for leg in mon.legs:
                prev = next((x for x in old.legs if x.symbol == leg.symbol), None)
                if prev:
                    leg.mid, leg.bid, leg.ask, leg.delta = prev.mid, prev.bid, prev.ask, prev.delta
                    leg.theta, leg.vega, leg.quote_time = prev.theta, prev.vega, prev.quote_time
        self._monitored[workflow_id] = mon
        for leg in mon.legs:
            self._by_symbol[leg.streamer_symbol].append(mon)
        await self.broker.subscribe([leg.streamer_symbol for leg in mon.legs])
        if any(leg.mid is None for leg in mon.legs):
            await self._refresh_leg_quotes(mon)
        self._portfolio_dirty = True
        self._mark_dirty(mon)  # statuses for the views at once; acts if a rule already holds

    async def _proposal(self, proposal_id: int) -> TradeProposal:
        cached = self._proposals.get(proposal_id)
        if cached is None:
            cached = (await self.store.get_proposal(proposal_id)).proposal
            self._proposals[proposal_id] = cached
        return cached

    async def _refresh_leg_quotes(self, mon: MonitoredPosition) -> None:
        """Quotes and greeks for every leg from the broker's chain, for a position whose stream
        has not ticked yet (just loaded, or just subscribed)."""
        today = self.clock.today()
        dtes = [(leg.expiry - today).days for leg in mon.legs]
        chain = await self.broker.option_chain(mon.symbol, max(0, min(dtes)), max(0, max(dtes)))
        for leg in mon.legs:
            contract = chain.contract(leg.symbol)
            if contract is None:
                continue
            if contract.quote is not None and leg.mid is None:
                q = contract.quote
                leg.bid, leg.ask, leg.mid, leg.quote_time = (float(q.bid), float(q.ask),
                                                             float(q.mid), q.time)
            if contract.greeks is not None and leg.delta is None:
                g = contract.greeks
                leg.delta, leg.theta, leg.vega = g.delta, g.theta, g.vega

    def _drop_monitored(self, workflow_id: int) -> None:
        mon = self._monitored.pop(workflow_id, None)
        if mon is None:
            return
        for leg in mon.legs:
            lst = self._by_symbol.get(leg.streamer_symbol)
            if lst is not None:
                lst[:] = [m for m in lst if m is not mon]
                if not lst:
                    del self._by_symbol[leg.streamer_symbol]
        self._portfolio_dirty = True

    def _effective_rules(self, wf: WorkflowRecord,
                         strategy: Strategy | None) -> tuple[ManagementRule, ...]:
        rules = list(strategy.rules) if strategy else []
        for key, value in (wf.rule_overrides or {}).items():
            idx = int(key)
            if 0 <= idx < len(rules):
                rules[idx] = dataclasses.replace(rules[idx], threshold=Decimal(str(value)))
        return tuple(rules)

    def _count_event(self) -> None:
        self._event_count += 1

    def _on_quote(self, event: QuoteReceived) -> None:
        self._event_count += 1
        q = event.quote
        self._quote_time = q.time
        if q.symbol in self._pending_quotes:
            self._pending_quotes[q.symbol] = q
        mons = self._by_symbol.get(q.symbol)
        if mons is None:
            if not q.symbol.startswith("."):
                self._spots[q.symbol] = float(q.mid)
            return
        bid, ask = float(q.bid), float(q.ask)
        mid = (bid + ask) / 2
        for mon in mons:
            for leg in mon.legs:
                if leg.streamer_symbol == q.symbol:
                    leg.bid, leg.ask, leg.mid, leg.quote_time = bid, ask, mid, q.time
            self._mark_dirty(mon)
        self._portfolio_dirty = True

    def _on_greeks(self, event: GreeksReceived) -> None:
        self._event_count += 1
        g = event.greeks
        mons = self._by_symbol.get(g.symbol)
        if mons is None:
            return
        for mon in mons:
            for leg in mon.legs:
                if leg.streamer_symbol == g.symbol:
                    leg.delta, leg.theta, leg.vega = g.delta, g.theta, g.vega
            if mon.delta_rules:  # only delta-breach rules read greeks; quotes drive the rest
                self._mark_dirty(mon)

    def _mark_dirty(self, mon: MonitoredPosition) -> None:
        """Queue a rule check for this loop turn.

        Quotes for a position's legs arrive as separate events, often in one burst (one stream
        message, one paper step). Checking once after the burst means the rules never see a
        spread priced from one fresh leg and one stale leg, which would fake a profit or a loss.
        """
        self._dirty[mon.workflow_id] = mon
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_checks)

    def _flush_checks(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, {}
        for mon in dirty.values():
            if self._monitored.get(mon.workflow_id) is mon:
                self._check(mon)

    def _check(self, mon: MonitoredPosition) -> None:
        """Evaluate a position's rules now; hand a triggered action to a task."""
        now = self.clock.now()
        acting = mon.evaluate(self.clock.today(), now, self._config.max_quote_age_seconds)
        if acting is None or acting in mon.awaiting:
            return
        if mon.retry_after is not None and now < mon.retry_after:
            return
        rule = mon.rules[acting]
        if rule.action is RuleAction.ALERT:
            if acting not in mon.alerted:
                mon.alerted.add(acting)
                self._rule_fired(mon, rule, "alert", "alert raised")
            return
        mon.acting = True
        self.spawn(self._act(mon.workflow_id, acting), f"rule-{mon.workflow_id}")

    def _rule_fired(self, mon: MonitoredPosition, rule: ManagementRule, action: str,
                    status: str) -> None:
        detail = next((s.description for s in mon.statuses if s.rule_type is rule.rule_type), "")
        now = self.clock.now()
        self.counters[f"rule:{rule.rule_type.value}"] += 1
        self.bus.publish(RuleTriggered(mon.workflow_id, rule.rule_type.value, action, detail, now))
        self._alert("warning" if rule.rule_type in (RuleType.STOP_LOSS, RuleType.DELTA_BREACH)
                    else "info", "rule", f"{mon.symbol}: {rule.rule_type.value}",
                    f"{detail} -> {status}", mon.workflow_id)
        self.spawn(self.store.add_rule_action(mon.workflow_id, rule.rule_type.value, action,
                                              detail, status, now), "rule-action")

    def _may_act_unattended(self, rule: ManagementRule) -> bool:
        return self._armed and (rule.auto or rule.rule_type in self._config.auto_manage
                                or self._config.auto_approve)

    async def _act(self, workflow_id: int, rule_index: int) -> None:
        mon = self._monitored.get(workflow_id)
        if mon is None:
            return
        rule = mon.rules[rule_index]
        try:
            async with self._locks[workflow_id]:
                if self._workflows[workflow_id].state is not WorkflowState.MONITORING:
                    mon.acting = False
                    return
                if not self._may_act_unattended(rule):
                    mon.awaiting.add(rule_index)
                    mon.acting = False
                    self._rule_fired(mon, rule, rule.action.value, "awaiting the trader's approval")
                    return
                self._rule_fired(mon, rule, rule.action.value, "acting automatically")
                if rule.action is RuleAction.ROLL or rule.rule_type is RuleType.ROLL:
                    outcome = await self._roll(mon, f"rule {rule.rule_type.value}",
                                               rule.rule_type.value)
                else:
                    units = close_quantity(rule, mon.units)
                    if rule.rule_type is RuleType.PARTIAL_CLOSE:
                        mon.spent.add(rule_index)
                    outcome = await self._close(mon, units, f"rule {rule.rule_type.value}",
                                                rule.rule_type.value)
                if outcome != "sent":
                    mon.acting = False
        except Exception:
            mon.acting = False
            raise

    async def _close(self, mon: MonitoredPosition, units: int, reason: str, rule: str) -> str:
        if mon.natural_close() is None:
            await self._refresh_leg_quotes(mon)
        natural = mon.natural_close()
        mark = mon.mark()
        if natural is None or mark is None:
            return "no quotes for every leg: cannot price the closing order"
        units = max(1, min(units, mon.units))
        purpose = OrderPurpose.CLOSE if units == mon.units else OrderPurpose.PARTIAL_CLOSE
        legs = tuple(OrderLeg(leg.symbol,
                              OrderAction.BUY_TO_CLOSE if leg.ratio < 0 else OrderAction.SELL_TO_CLOSE,
                              abs(leg.ratio) * units) for leg in mon.legs)
        mid = Decimal(str(round(-mark, 2)))
        strategy = self._strategies.get(mon.strategy_name)
        await self._transition(mon.workflow_id, Trigger.CLOSE, Actor.ENGINE if rule else Actor.USER,
                               f"{reason}: {purpose.value} {units} of {mon.units}",
                               payload={"rule": rule, "units": units})
        start = initial_price(mid, natural, ZERO)
        await self._submit(mon.workflow_id, purpose, mon.symbol, legs, units, start, natural,
                           strategy, None, rule_type=rule)
        return "sent"

    async def _roll(self, mon: MonitoredPosition, reason: str, rule: str) -> str:
        strategy = self._strategies.get(mon.strategy_name)
        if mon.natural_close() is None:
            await self._refresh_leg_quotes(mon)
        natural_close = mon.natural_close()
        mark = mon.mark()
        if strategy is None or natural_close is None or mark is None:
            return "cannot roll: strategy or quotes missing"
        today = self.clock.today()
        current = mon.dte(today)
        dte = DteRange(min=max(strategy.dte.min, current + 1),
                       target=max(strategy.dte.target, current + 7),
                       max=max(strategy.dte.max, current + 14), prefer_monthly=False)
        rolled = dataclasses.replace(strategy, dte=dte,
                                     sizing=dataclasses.replace(strategy.sizing, quantity=mon.units))
        chain = await self.broker.option_chain(mon.symbol, dte.min, dte.max)
        try:
            proposal = build_proposal(rolled, chain, self.clock.now(),
                                      max_quote_age_s=self._config.max_quote_age_seconds)
        except SelectionError as exc:
            return f"cannot roll: {exc}"
        close_legs = tuple(OrderLeg(leg.symbol, OrderAction.BUY_TO_CLOSE if leg.ratio < 0
                                    else OrderAction.SELL_TO_CLOSE, abs(leg.ratio) * mon.units)
                           for leg in mon.legs)
        open_legs = self._open_legs(proposal, mon.units)
        mid = (Decimal(str(round(-mark, 2))) + proposal.mid_price).quantize(CENT)
        natural = (natural_close + proposal.natural_price).quantize(CENT)
        proposal_id = await self.store.save_proposal(mon.workflow_id, proposal, None)
        self._proposals[proposal_id] = proposal
        await self._transition(mon.workflow_id, Trigger.CLOSE, Actor.ENGINE,
                               f"{reason}: roll to {proposal.expiry.isoformat()}",
                               payload={"rule": rule, "roll_proposal": proposal_id},
                               proposal_id=proposal_id)
        await self._submit(mon.workflow_id, OrderPurpose.ROLL, mon.symbol, close_legs + open_legs,
                           mon.units, initial_price(mid, natural, ZERO), natural, strategy, None,
                           proposal_id=proposal_id, rule_type=rule)
        return "sent"

    async def close_position(self, workflow_id: int, user: str, pct: int = 100) -> str:
        if pct not in (25, 50, 75, 100):
            raise EngineError("close percentage must be 25, 50, 75 or 100")
        mon = self._monitored.get(workflow_id)
        if mon is None:
            raise EngineError("no open position for that workflow")
        if not self._reconciled:
            raise EngineError("the broker is not reconciled yet")
        async with self._locks[workflow_id]:
            if self._workflows[workflow_id].state is not WorkflowState.MONITORING or mon.acting:
                return "an action is already in progress for this position"
            mon.acting = True
            units = mon.units if pct == 100 else max(1, mon.units * pct // 100)
            await self.store.audit(user, "close", f"{pct}% ({units} units)", self.clock.now(),
                                   workflow_id)
            outcome = await self._close(mon, units, f"closed by {user}", "")
            if outcome != "sent":
                mon.acting = False
            else:
                mon.awaiting.clear()
            return outcome

    async def roll_position(self, workflow_id: int, user: str) -> str:
        mon = self._monitored.get(workflow_id)
        if mon is None:
            raise EngineError("no open position for that workflow")
        async with self._locks[workflow_id]:
            if self._workflows[workflow_id].state is not WorkflowState.MONITORING or mon.acting:
                return "an action is already in progress for this position"
            mon.acting = True
            await self.store.audit(user, "roll", "manual roll", self.clock.now(), workflow_id)
            outcome = await self._roll(mon, f"rolled by {user}", "")
            if outcome != "sent":
                mon.acting = False
            else:
                mon.awaiting.clear()
            return outcome

    async def external_positions(self) -> list[BrokerPosition]:
        """Broker positions no workflow manages: candidates for adoption."""
        held: Counter[str] = Counter()
        for mon in self._monitored.values():
            for leg in mon.legs:
                held[leg.symbol] += leg.quantity
        out = []
        for pos in await self.broker.positions():
            rest = pos.quantity - held.get(pos.symbol, 0)
            if rest != 0 and len(pos.symbol) == 21:
                out.append(dataclasses.replace(pos, quantity=rest))
        return out

    async def adopt_position(self, symbols: Sequence[str], strategy_name: str, user: str) -> int:
        """Take option legs opened outside the app into monitoring under a strategy's rules.

        The legs keep the broker's quantities and average open prices; max profit and loss come
        from the structure's payoff at expiry.
        """
        strategy = self._strategies.get(strategy_name)
        if strategy is None:
            raise EngineError(f"strategy: no strategy named {strategy_name!r}")
        if not symbols:
            raise EngineError("symbols: choose at least one leg to adopt")
        available = {p.symbol: p for p in await self.external_positions()}
        legs = []
        for sym in symbols:
            if sym not in available:
                raise EngineError(f"symbols: {sym.strip()} is not an unmanaged broker position")
            legs.append(available[sym])
        roots = {parse_occ(p.symbol)[0] for p in legs}
        if len(roots) != 1:
            raise EngineError("symbols: adopted legs must share one underlying")
        underlying = roots.pop()
        now = self.clock.now()
        rec = await self.store.create_workflow(underlying, Actor.USER, f"adopted by {user}", now,
                                               strategy_name=strategy_name)
        self._workflows[rec.id] = rec
        for p in legs:
            await self.store.apply_position_fill(rec.id, p.symbol, p.quantity,
                                                 p.average_open_price, now)
        profit, loss = _payoff_extremes(legs)
        await self._transition(rec.id, Trigger.ADOPT, Actor.USER,
                               f"adopted {len(legs)} legs under {strategy_name} by {user}",
                               payload={"symbols": list(symbols), "max_profit": str(profit),
                                        "max_loss": str(loss)})
        await self.store.audit(user, "adopt", ", ".join(s.strip() for s in symbols), now, rec.id)
        await self._load_monitored(rec.id)
        mon = self._monitored.get(rec.id)
        if mon is not None and mon.units:
            mon.max_profit_per_unit = profit / mon.units
            mon.max_loss_per_unit = loss / mon.units
            mon.buying_power_per_unit = loss / mon.units
        return rec.id

    async def cancel_workflow(self, workflow_id: int, user: str, reason: str) -> None:
        if not reason.strip():
            raise EngineError("a reason is required to cancel a workflow")
        async with self._locks[workflow_id]:
            wf = self._workflows[workflow_id]
            if wf.state in HOLDING or wf.state is WorkflowState.EXECUTING:
                raise EngineError("close the position (or let the order end) before cancelling")
            await self._transition(workflow_id, Trigger.CANCEL, Actor.USER,
                                   f"cancelled by {user}: {reason}")
            for key in [k for k in self._timers if k[1] == workflow_id]:
                self._timers.pop(key).cancel()

    # ------------------------------------------------------------------ account events
    def _on_balance(self, event: BalanceUpdated) -> None:
        self._balance = event.balance
        if self._day_start_nlv is None:
            self._day_start_nlv = event.balance.net_liquidating_value
        self._portfolio_dirty = True

    def _on_gap(self, event: StreamGap) -> None:
        """After a stream gap, re-read every open order: fills may have happened meanwhile."""
        if event.stream == "account":
            for ext, working in list(self._working.items()):
                if working.broker_order_id:
                    self.spawn(self._confirm_fill(ext, working.broker_order_id), "resync")

    def _on_connection(self, event: ConnectionChanged) -> None:
        if event.stream == "rest" and event.health is StreamHealth.DISCONNECTED and \
                "login" in event.detail:
            self._login_required = True
            if self._armed:
                self.set_automation(False, "engine")
            self._alert("error", "connection", "Login required", event.detail)

    # ------------------------------------------------------------------ portfolio
    def _schedule_portfolio(self) -> None:
        """Refresh the portfolio figures once a minute while the market is open (greeks and
        marks move only then); the first refresh of a session also re-checks time rules, since
        DTE changes overnight."""
        now = self.clock.now()
        at = now + timedelta(seconds=60)
        if not self.calendar.is_open(at):
            at = self.calendar.next_open(at)

        def fire() -> None:
            if self._portfolio_dirty:
                self._refresh_portfolio()
            today = self.clock.today()
            for mon in list(self._monitored.values()):
                if mon.today != today:
                    mon.today = today
                    self._check(mon)
            self._schedule_portfolio()

        self._timers.pop(("portfolio", 0), None)
        self._timers[("portfolio", 0)] = self.clock.call_at(at, fire)

    def _symbol_bwd(self, symbol: str) -> float:
        spy = self._spots.get("SPY") or 1.0
        total = 0.0
        for mon in self._monitored.values():
            if mon.symbol == symbol:
                delta, _, _ = mon.greeks()
                total += delta * mon.beta * (self._spots.get(symbol, spy) / spy)
        return total

    def _bp_limit(self) -> Decimal:
        if self._balance is None:
            return ZERO
        return (self._balance.net_liquidating_value * self._config.max_allocation_pct / 100
                ).quantize(CENT)

    def _refresh_portfolio(self) -> None:
        self._portfolio_dirty = False
        spy = self._spots.get("SPY") or 1.0
        bwd = theta = vega = 0.0
        used = ZERO
        for mon in self._monitored.values():
            delta, t, v = mon.greeks()
            bwd += delta * mon.beta * (self._spots.get(mon.symbol, spy) / spy)
            theta += t
            vega += v
            used += mon.buying_power_per_unit * mon.units
        limit = self._bp_limit()
        nlv = self._balance.net_liquidating_value if self._balance else ZERO
        reasons = []
        if abs(bwd) > float(self._config.max_portfolio_bwd):
            reasons.append(f"beta-weighted delta {bwd:+.0f} beyond ±{self._config.max_portfolio_bwd}")
        if limit > 0 and used > limit:
            reasons.append(f"buying power used {used} above {limit}")
        breached = bool(reasons)
        self._portfolio = PortfolioView(
            beta_weighted_delta=bwd, theta=theta, vega=vega, buying_power_used=used,
            buying_power_limit=limit, net_liquidating_value=nlv,
            pnl_today=(nlv - self._day_start_nlv) if self._day_start_nlv is not None else ZERO,
            open_positions=len(self._monitored), breached=breached,
            breach_reason="; ".join(reasons))
        if breached and not self._breach_alerted:
            self._alert("error", "risk", "Portfolio limit breached",
                        "; ".join(reasons) + ". New proposals are blocked.")
        self._breach_alerted = breached
        now = self.clock.now()
        self.bus.publish(PortfolioRiskChanged(bwd, theta, vega, used, limit,
                                              self._portfolio.pnl_today, breached, now))

    # ------------------------------------------------------------------ queries
    def config(self) -> EngineConfig:
        return self._config

    def strategies(self) -> list[Strategy]:
        return sorted(self._strategies.values(), key=lambda s: (s.priority, s.name))

    def workflows(self) -> list[WorkflowView]:
        out = []
        for wf in self._workflows.values():
            pending = self._pending.get(wf.id)
            out.append(WorkflowView(
                workflow_id=wf.id, symbol=wf.symbol, strategy_name=wf.strategy_name,
                state=wf.state, created_at=wf.created_at, updated_at=wf.updated_at,
                last_reason=self._last_reason.get(wf.id, ""), proposal_id=wf.proposal_id,
                bias=pending.proposal.bias if pending else None,
                cooldown_until=wf.cooldown_until))
        return sorted(out, key=lambda w: w.workflow_id)

    def pending(self) -> list[PendingView]:
        return [dataclasses.replace(p, in_flight=p.workflow_id in self._in_flight)
                for p in sorted(self._pending.values(), key=lambda p: p.created_at)]

    def positions(self) -> list[PositionView]:
        today = self.clock.today()
        return [mon.view(self._workflows[wid].state, today)
                for wid, mon in sorted(self._monitored.items())]

    def orders(self, open_only: bool = False) -> list[OrderView]:
        out = []
        for rec in self._orders.values():
            if open_only and rec.status not in OPEN_ORDER:
                continue
            working = self._working.get(rec.external_id)
            out.append(OrderView(rec.external_id, rec.workflow_id, rec.underlying,
                                 rec.purpose.value, rec.status, working.price if working
                                 else rec.price, rec.quantity, rec.filled_quantity,
                                 working.attempts if working else rec.attempt, rec.updated_at))
        return sorted(out, key=lambda o: o.updated_at, reverse=True)

    def transitions(self, workflow_id: int | None = None, limit: int = 500) -> list[TransitionRecord]:
        return self.store.store.transitions(workflow_id, limit=limit)

    def decisions(self, limit: int = 500) -> list[DecisionRecord]:
        return self.store.store.decisions(limit=limit)

    def rule_actions(self, workflow_id: int | None = None) -> list[RuleActionRecord]:
        return self.store.store.rule_actions(workflow_id)

    def journal(self) -> list[JournalRecord]:
        return self.store.store.journal()

    def audit_log(self, limit: int = 500) -> list[AuditRecord]:
        return self.store.store.audit_log(limit=limit)

    def errors(self, limit: int = 500) -> list[ErrorRecord]:
        return self.store.store.errors(limit=limit)

    def portfolio(self) -> PortfolioView:
        if self._portfolio_dirty:
            self._refresh_portfolio()
        return self._portfolio

    def health(self) -> HealthView:
        now_wall = time.monotonic()
        start, count = self._event_window
        if now_wall - start >= 1.0:
            self._events_per_s = (self._event_count - count) / (now_wall - start)
            self._event_window = (now_wall, self._event_count)
        now = self.clock.now()
        errors: Counter[str] = Counter(e.category for e in self.store.store.errors(limit=1000))
        return HealthView(
            mode=self.mode, automation_armed=self._armed, reconciled=self._reconciled,
            reconcile_detail=self._reconcile_detail, streams=self.broker.health(),
            quote_age_s=(now - self._quote_time).total_seconds() if self._quote_time else None,
            events_per_s=self._events_per_s, clock_speed=self.clock.speed, clock_now=now,
            market_open=self.calendar.is_open(now), errors_by_category=dict(errors),
            pending_count=len(self._pending), open_positions=len(self._monitored),
            login_required=self._login_required)

    def analytics(self) -> AnalyticsView:
        store = self.store.store
        orders = store.orders()
        sent = [o for o in orders if o.broker_order_id]
        filled = [o for o in sent if o.status is OrderStatus.FILLED]
        steps = 0
        for o in sent:
            steps += sum(1 for e in store.order_events(o.external_id)
                         if e.detail.startswith("price step"))
        time_in: dict[str, float] = defaultdict(float)
        last: dict[int, TransitionRecord] = {}
        for t in sorted(store.transitions(None), key=lambda t: (t.workflow_id, t.seq)):
            prev = last.get(t.workflow_id)
            if prev is not None:
                time_in[prev.to_state.value] += (t.time - prev.time).total_seconds()
            last[t.workflow_id] = t
        stats: dict[str, list[Decimal]] = defaultdict(list)
        curve = []
        equity = 0.0
        for j in sorted(store.journal(), key=lambda j: j.closed_at):
            stats[j.strategy].append(j.realised_pnl)
            equity += float(j.realised_pnl)
            curve.append((j.closed_at, equity))
        by_strategy = tuple(StrategyStats(name, len(v), sum(1 for x in v if x > 0),
                                          sum(v, ZERO)) for name, v in sorted(stats.items()))
        return AnalyticsView(orders_sent=len(sent), orders_filled=len(filled),
                             price_improvement_steps=steps, time_in_state_s=dict(time_in),
                             by_strategy=by_strategy, equity_curve=tuple(curve))

    # ------------------------------------------------------------------ settings commands
    async def preview(self, strategy: Strategy, symbol: str) -> TradeProposal:
        symbol = symbol.upper()
        max_dte = strategy.dte.max + max((leg.expiry_offset_days for leg in strategy.legs),
                                         default=0)
        chain = await self.broker.option_chain(symbol, strategy.dte.min, max_dte)
        info = chain.underlying
        assessment = assess_bias(info, self._symbol_bwd(symbol), self._config, self.clock.today())
        return build_proposal(strategy, chain, self.clock.now(), bias=assessment.bias,
                              confidence=assessment.confidence, rationale=assessment.reasons,
                              max_quote_age_s=self._config.max_quote_age_seconds)

    def set_rules_paused(self, workflow_id: int, paused: bool, user: str) -> None:
        mon = self._monitored.get(workflow_id)
        if mon is not None:
            mon.paused = paused
        self._workflows[workflow_id] = self.store.store.update_workflow(workflow_id,
                                                                        rules_paused=paused)
        self.store.store.audit(user, "rules_paused" if paused else "rules_resumed", "",
                               self.clock.now(), workflow_id)
        self.bus.publish(RuleTriggered(workflow_id, "all", "paused" if paused else "resumed",
                                       f"rules {'paused' if paused else 'resumed'} by {user}",
                                       self.clock.now()))

    def set_rule_threshold(self, workflow_id: int, rule_index: int, threshold: Decimal,
                           user: str) -> None:
        mon = self._monitored.get(workflow_id)
        wf = self._workflows[workflow_id]
        strategy = self._strategies.get(wf.strategy_name or "")
        if strategy is None or not 0 <= rule_index < len(strategy.rules):
            raise EngineError(f"rules[{rule_index}]: no such rule")
        if threshold <= 0:
            raise EngineError(f"rules[{rule_index}].threshold: must be positive")
        overrides = dict(wf.rule_overrides or {})
        overrides[str(rule_index)] = str(threshold)
        self._workflows[workflow_id] = self.store.store.update_workflow(
            workflow_id, rule_overrides=overrides)
        if mon is not None:
            mon.rules = self._effective_rules(self._workflows[workflow_id], strategy)
            mon.awaiting.discard(rule_index)
        self.store.store.audit(user, "rule_threshold", f"rules[{rule_index}] = {threshold}",
                               self.clock.now(), workflow_id)

    def set_automation(self, armed: bool, user: str) -> None:
        self._armed = armed
        self.store.store.set_config("automation_armed", armed)
        self.store.store.audit(user, "automation", "armed" if armed else "paused (kill switch)",
                               self.clock.now())
        self._alert("warning" if not armed else "info", "risk",
                    "Automation " + ("armed" if armed else "paused"),
                    f"by {user}")

    def update_config(self, config: EngineConfig, user: str) -> None:
        config.validate()
        old = self._config
        changed = tuple(k for k, v in config.to_dict().items() if old.to_dict().get(k) != v)
        self._config = config
        self.store.store.set_config("engine", config.to_dict())
        self.store.store.audit(user, "settings", ", ".join(changed) or "no change", self.clock.now())
        if "scan_interval_minutes" in changed:
            self._schedule_scan()
        if hasattr(self.clock, "set_speed") and "paper_speed" in changed and \
                self.mode is Mode.PAPER:
            self.clock.set_speed(config.paper_speed)
        if "watchlist" in changed and self._started:
            self.spawn(self.broker.subscribe(sorted({*config.watchlist, "SPY"})), "subscribe")
        self.bus.publish(ConfigChange(config, changed))

    def remember_account(self, env: str, account_number: str, user: str) -> None:
        if env not in ("live", "sandbox"):
            raise EngineError(f"env: must be live or sandbox, got {env!r}")
        if not account_number.strip():
            raise EngineError("account_number: required")
        self.store.store.set_config(f"account:{env}", account_number.strip())
        self.store.store.audit(user, "account", f"{env} account {account_number.strip()}",
                               self.clock.now())

    def save_strategy(self, strategy: Strategy, user: str) -> None:
        self.store.store.save_strategy(strategy)
        self._strategies[strategy.name] = strategy
        self.store.store.audit(user, "strategy_saved", strategy.name, self.clock.now())

    def delete_strategy(self, name: str, user: str) -> None:
        self.store.store.delete_strategy(name)
        self._strategies.pop(name, None)
        self.store.store.audit(user, "strategy_deleted", name, self.clock.now())

    def restore_default_strategies(self, user: str) -> None:
        self.store.store.restore_default_strategies()
        self._strategies = {s.name: s for s in self.store.store.list_strategies()}
        self.store.store.audit(user, "strategies_restored", "defaults restored", self.clock.now())


def _payoff_extremes(legs: Sequence[BrokerPosition]) -> tuple[Decimal, Decimal]:
    """Max profit and max loss ($, positive numbers) of option legs held to expiry.

    The payoff is piecewise linear with kinks at the strikes, so its extremes lie at a strike,
    at zero, or at infinity (an unbounded side is reported at five times the highest strike).
    """
    parsed = [(parse_occ(p.symbol), p) for p in legs]
    strikes = sorted({k for (_, _, _, k), _ in parsed})
    entry = sum((-Decimal(p.quantity) * p.average_open_price for _, p in parsed), ZERO) * 100

    def value(price: Decimal) -> Decimal:
        total = entry
        for (_, _, kind, strike), p in parsed:
            intrinsic = max(ZERO, price - strike) if kind.value == "call" else max(
                ZERO, strike - price)
            total += Decimal(p.quantity) * intrinsic * 100
        return total

    points = [ZERO, *strikes, strikes[-1] * 5 if strikes else ZERO]
    values = [value(x) for x in points]
    return max(max(values), ZERO), max(-min(values), ZERO)
